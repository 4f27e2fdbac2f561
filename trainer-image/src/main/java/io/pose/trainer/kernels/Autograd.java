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
}
