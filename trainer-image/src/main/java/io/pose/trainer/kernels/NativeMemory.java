package io.pose.trainer.kernels;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.PoseModuleAccess;
import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;

/**
 * Raw tensor memory and engine threads: what the distributed layer needs from the engine. A collective library
 * (NCCL through JavaCPP) reads and writes a tensor's memory in place; DJL only copies tensors out, so this aliases
 * libtorch's data pointer instead.
 */
public final class NativeMemory {
  private NativeMemory() {}

  /**
   * The tensor's memory, in place (writes change the tensor). For a GPU tensor the buffer's address is device
   * memory: pass it on, never read it from Java. The tensor must be contiguous, below 2 GiB, and outlive the buffer.
   */
  public static ByteBuffer alias(NDArray tensor) {
    long bytes = tensor.getShape().size() * tensor.getDataType().getNumOfBytes();
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a tensor of " + bytes + " bytes cannot be aliased by one buffer (2 GiB at most):"
          + " split it");
    }
    return PoseModuleAccess.alias((PtNDArray) tensor);
  }

  /**
   * A buffer over the tensor's first element, in place: its address is the tensor's data pointer whatever the
   * tensor's size (a collective library takes the address and the element count). CPU or GPU; contiguous tensors.
   */
  public static ByteBuffer head(NDArray tensor) {
    if (tensor.getShape().size() == 0) {
      throw new IllegalArgumentException("an empty tensor has no data pointer to pass on");
    }
    try (NDArray flat = tensor.getShape().dimension() == 1 ? null : tensor.reshape(-1);
        NDArray first = FusedOps.view(flat == null ? tensor : flat, 0, new long[] {1})) {
      return PoseModuleAccess.alias((PtNDArray) first);
    }
  }

  /** The fp32 values of a tensor on any device, copied to the host. */
  public static float[] floats(NDArray tensor) {
    requireFloat32(tensor);
    return tensor.toFloatArray();
  }

  /** Writes fp32 values into a tensor in place, on any device (CPU: straight into its memory). */
  public static void write(NDArray target, float[] values) {
    requireFloat32(target);
    if (target.getShape().size() != values.length) {
      throw new IllegalArgumentException("writing " + values.length + " values into a tensor of " + target.getShape());
    }
    if ("cpu".equals(target.getDevice().getDeviceType())) {
      alias(target).asFloatBuffer().put(values);
      return;
    }
    try (NDManager host = target.getManager().newSubManager(Device.cpu());
        NDArray staged = host.create(values, target.getShape())) {
      FusedOps.copy(target, staged);
    }
  }

  private static void requireFloat32(NDArray tensor) {
    if (tensor.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("collectives move fp32 tensors, not " + tensor.getDataType());
    }
  }

  /** libtorch's intra-op threads of the calling thread's pool. */
  public static int threads() {
    return PoseModuleAccess.threads();
  }

  /** Sets libtorch's intra-op threads (a worker per GPU wants few; a CPU run wants the cores). */
  public static void setThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, not " + threads);
    }
    PoseModuleAccess.setThreads(threads);
  }
}
