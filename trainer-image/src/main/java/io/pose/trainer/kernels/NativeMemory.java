package io.pose.trainer.kernels;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.PoseModuleAccess;
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
