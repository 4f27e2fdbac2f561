package io.pose.trainer.io;

import java.util.Arrays;

/**
 * A tensor's entry in a safetensors header.
 *
 * @param name the tensor's name (Hugging Face parameter name)
 * @param dtype its element type
 * @param shape its shape (empty for a scalar)
 * @param begin first byte, relative to the data section
 * @param end one past the last byte
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

  public long elements() {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  public long bytes() {
    return end - begin;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
        && begin == t.begin && end == t.end;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape);
  }
}
