package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import java.util.Collection;

/** Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ computes it. */
public final class GradientClipping {
  private GradientClipping() {}

  /**
   * Scales every gradient by min(1, maxNorm / (norm + 1e-6)), where norm is the 2-norm of all gradients together.
   *
   * @return the norm before clipping (NaN or infinite when a gradient is; nothing is scaled then)
   */
  public static double clip(Collection<NDArray> parameters, double maxNorm) {
    double sumSquares = 0;
    for (NDArray p : parameters) {
      if (p.hasGradient()) {
        try (NDArray g = p.getGradient(); NDArray n = g.norm()) {
          double norm = n.getFloat();
          sumSquares += norm * norm;
        }
      }
    }
    double norm = Math.sqrt(sumSquares);
    if (maxNorm > 0 && Double.isFinite(norm)) {
      double coefficient = Math.min(1.0, maxNorm / (norm + 1e-6));
      if (coefficient < 1.0) {
        for (NDArray p : parameters) {
          if (p.hasGradient()) {
            try (NDArray g = p.getGradient()) {
              g.muli((float) coefficient);
            }
          }
        }
      }
    }
    return norm;
  }
}
