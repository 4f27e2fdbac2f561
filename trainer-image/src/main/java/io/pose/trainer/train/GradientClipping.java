package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.FusedOps;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ computes it. */
public final class GradientClipping {
  private GradientClipping() {}

  /**
   * Scales every gradient by min(1, maxNorm / (norm + 1e-6)), where norm is the 2-norm of all gradients together
   * (computed as torch does: the norm of the per-tensor norms, in fp32).
   *
   * @return the norm before clipping (NaN or infinite when a gradient is; nothing is scaled then)
   */
  public static double clip(Collection<NDArray> parameters, double maxNorm) {
    List<NDArray> grads = new ArrayList<>();
    try {
      for (NDArray p : parameters) {
        if (p.hasGradient()) {
          grads.add(p.getGradient());
        }
      }
      if (grads.isEmpty()) {
        return 0;
      }
      double norm;
      try (NDArray n = FusedOps.globalNorm(grads)) {
        norm = n.getFloat();
      }
      scaleToNorm(grads, norm, maxNorm);
      return norm;
    } finally {
      grads.forEach(NDArray::close);
    }
  }

  /**
   * Scales gradients whose 2-norm together is norm by min(1, maxNorm / (norm + 1e-6)), the coefficient computed in
   * fp32 from the fp32 norm as torch does; nothing when maxNorm is 0 (clipping off) or the norm is not finite.
   */
  static void scaleToNorm(List<NDArray> grads, double norm, double maxNorm) {
    if (maxNorm > 0 && Double.isFinite(norm)) {
      float coefficient = (float) maxNorm / ((float) norm + 1e-6f);
      if (coefficient < 1.0f) {
        FusedOps.scale(grads, coefficient);
      }
    }
  }
}
