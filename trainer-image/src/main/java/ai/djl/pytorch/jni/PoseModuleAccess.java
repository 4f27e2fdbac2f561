package ai.djl.pytorch.jni;

import ai.djl.Device;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import java.io.ByteArrayInputStream;
import java.io.IOException;

/**
 * The one class of this project inside DJL's package: DJL runs a TorchScript method other than forward only with
 * autograd off, and the native entry point that can keep it on is package-private. Used by
 * io.pose.trainer.kernels.FusedOps only.
 */
public final class PoseModuleAccess {
  private PoseModuleAccess() {}

  /** Loads a TorchScript archive onto a device; returns the module's native handle. */
  public static long load(byte[] archive, Device device) throws IOException {
    return JniUtils.loadModuleHandle(new ByteArrayInputStream(archive), device, true, false);
  }

  /**
   * Runs a method of a module with autograd on (when the calling thread records) and returns its tensor result.
   *
   * @param arguments PtNDArray, PtNDArray[] (a List[Tensor] argument), Boolean, Long, Double or long[] (an int[]
   *     argument of the method)
   */
  public static PtNDArray run(long module, String method, PtNDManager manager, Object... arguments) {
    IValue[] values = new IValue[arguments.length];
    try {
      for (int i = 0; i < arguments.length; i++) {
        values[i] = toIValue(arguments[i]);
      }
      long[] handles = new long[values.length];
      for (int i = 0; i < values.length; i++) {
        handles[i] = values[i].getHandle();
      }
      long result = PyTorchLibrary.LIB.moduleRunMethod(module, method, handles, JniUtils.isGradMode(), false);
      try (IValue out = new IValue(result)) {
        return out.toTensor(manager);
      }
    } finally {
      for (IValue v : values) {
        if (v != null) {
          v.close();
        }
      }
    }
  }

  /** Runs TorchScript graphs as written on this thread (no profiling-based re-optimization). */
  public static void disableGraphOptimization() {
    JniUtils.setGraphExecutorOptimize(false);
  }

  /**
   * The tensor's memory as a direct buffer (data_ptr, no copy and no device check): what a collective library
   * needs. The tensor must be contiguous and under 2 GiB, and must outlive the buffer.
   */
  public static java.nio.ByteBuffer alias(PtNDArray tensor) {
    return PyTorchLibrary.LIB.torchDirectByteBuffer(tensor.getHandle()).order(java.nio.ByteOrder.nativeOrder());
  }

  public static int threads() {
    return JniUtils.getNumThreads();
  }

  public static void setThreads(int threads) {
    JniUtils.setNumThreads(threads);
  }

  public static void delete(long module) {
    PyTorchLibrary.LIB.torchDeleteModule(module);
  }

  private static IValue toIValue(Object a) {
    if (a instanceof PtNDArray t) {
      return IValue.from(t);
    } else if (a instanceof Boolean b) {
      return IValue.from(b);
    } else if (a instanceof Long l) {
      return IValue.from(l);
    } else if (a instanceof Integer n) {
      return IValue.from((long) n);
    } else if (a instanceof Double d) {
      return IValue.from(d);
    } else if (a instanceof long[] list) {
      return IValue.listFrom(list);
    } else if (a instanceof PtNDArray[] tensors) {
      return IValue.listFrom(tensors);
    }
    throw new IllegalArgumentException("unsupported TorchScript argument " + a.getClass().getName());
  }
}
