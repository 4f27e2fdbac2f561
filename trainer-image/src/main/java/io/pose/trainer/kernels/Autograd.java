package io.pose.trainer.kernels;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/** Gradient bookkeeping on the PyTorch engine (the only package that reaches into ai.djl.pytorch.jni). */
public final class Autograd {
  private Autograd() {}

  /**
   * Clears a parameter's gradient. DJL's gradient collector does not (gradients accumulate across backward calls,
   * which gradient accumulation relies on), and subtracting the gradient from itself would keep a NaN.
   */
  public static void zeroGrad(NDArray parameter) {
    if (parameter.hasGradient()) {
      JniUtils.zeroGrad((PtNDArray) parameter);
    }
  }

  /** Whether autograd records operations on this thread now. */
  public static boolean recording() {
    return JniUtils.isGradMode();
  }

  /** Runs body with autograd recording on or off on this thread, then restores the previous mode. */
  public static <T> T recording(boolean on, java.util.function.Supplier<T> body) {
    boolean before = JniUtils.isGradMode();
    JniUtils.setGradMode(on);
    try {
      return body.get();
    } finally {
      JniUtils.setGradMode(before);
    }
  }

  /** Backward from a scalar: gradients accumulate into every leaf that requires them. */
  public static void backward(NDArray scalar) {
    backward(scalar, scalar.getManager().ones(scalar.getShape(), scalar.getDataType()));
  }

  /** Backward from an output with the gradient of the loss with respect to it (vector-Jacobian product). */
  public static void backward(NDArray output, NDArray upstream) {
    JniUtils.backward((PtNDArray) output, (PtNDArray) upstream, false, false);
  }

  /** The same values as a new leaf of the graph that collects its gradient (the input of a recomputed layer). */
  public static NDArray leaf(NDArray x) {
    NDArray leaf = x.stopGradient();
    leaf.setRequiresGradient(true);
    return leaf;
  }

  /**
   * A copy, usable by autograd, of a tensor computed with recording off (libtorch makes those inference tensors,
   * which a later graph may not save).
   */
  public static NDArray outside(NDArray inferenceTensor) {
    return recording(true, inferenceTensor::duplicate);
  }
}
