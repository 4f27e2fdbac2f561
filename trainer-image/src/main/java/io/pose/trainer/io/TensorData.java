package io.pose.trainer.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor to write: name, dtype, shape and little-endian bytes.
 *
 * @param name the tensor's name
 * @param dtype its element type
 * @param shape its shape
 * @param data exactly elements x dtype size bytes, little-endian (read from position 0)
 */
public record TensorData(String name, DType dtype, long[] shape, ByteBuffer data) {

  public TensorData {
    long elements = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
      }
      elements = Math.multiplyExact(elements, d);
    }
    if (data.limit() != elements * dtype.bytes()) {
      throw new IllegalArgumentException(name + ": " + dtype + Arrays.toString(shape) + " needs "
          + elements * dtype.bytes() + " bytes, got " + data.limit());
    }
  }

  public long bytes() {
    return data.limit();
  }

  public static TensorData f32(String name, long[] shape, float[] values) {
    ByteBuffer b = buffer(values.length * 4L);
    for (float v : values) {
      b.putFloat(v);
    }
    return new TensorData(name, DType.F32, shape, b.flip());
  }

  /** fp32 values stored as bfloat16 (round to nearest even). */
  public static TensorData bf16(String name, long[] shape, float[] values) {
    ByteBuffer b = buffer(values.length * 2L);
    for (float v : values) {
      b.putShort(Floats.floatToBf16(v));
    }
    return new TensorData(name, DType.BF16, shape, b.flip());
  }

  /** fp32 values stored as IEEE half (round to nearest even). */
  public static TensorData f16(String name, long[] shape, float[] values) {
    ByteBuffer b = buffer(values.length * 2L);
    for (float v : values) {
      b.putShort(Floats.floatToF16(v));
    }
    return new TensorData(name, DType.F16, shape, b.flip());
  }

  public static TensorData i64(String name, long[] shape, long[] values) {
    ByteBuffer b = buffer(values.length * 8L);
    for (long v : values) {
      b.putLong(v);
    }
    return new TensorData(name, DType.I64, shape, b.flip());
  }

  /** Raw bytes as read from another file (a copy of the buffer's content). */
  public static TensorData raw(String name, DType dtype, long[] shape, ByteBuffer bytes) {
    ByteBuffer b = buffer(bytes.remaining());
    b.put(bytes.duplicate());
    return new TensorData(name, dtype, shape, b.flip());
  }

  private static ByteBuffer buffer(long bytes) {
    return ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
  }
}
