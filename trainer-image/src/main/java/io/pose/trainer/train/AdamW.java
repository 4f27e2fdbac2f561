package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.FusedOps;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW exactly as torch.optim.AdamW updates (decoupled weight decay p *= 1 - lr wd, then the bias-corrected Adam
 * step, with torch's single-tensor formulas), on fp32 master weights with fp32 moments, one fused in-place call per
 * parameter. Updates run outside any gradient recording.
 */
public final class AdamW {

  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final Map<String, NDArray> expAvg = new LinkedHashMap<>();
  private final Map<String, NDArray> expAvgSq = new LinkedHashMap<>();
  private long step;

  public AdamW(double beta1, double beta2, double eps, double weightDecay) {
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** Applies one step with this learning rate to every parameter that has a gradient. */
  public void step(Map<String, NDArray> parameters, double lr) {
    step++;
    double bias1 = 1 - Math.pow(beta1, step);
    double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
    for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
      NDArray p = e.getValue();
      if (!p.hasGradient()) {
        continue;
      }
      NDArray m = expAvg.computeIfAbsent(e.getKey(), k -> p.zerosLike());
      NDArray v = expAvgSq.computeIfAbsent(e.getKey(), k -> p.zerosLike());
      try (NDArray g = p.getGradient()) {
        FusedOps.adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, bias1, bias2Sqrt);
      }
    }
  }

  public long stepCount() {
    return step;
  }

  /** Restores the state a checkpoint saved (moments by parameter name and the step count). */
  public void restore(long stepCount, Map<String, NDArray> firstMoments, Map<String, NDArray> secondMoments) {
    this.step = stepCount;
    expAvg.clear();
    expAvg.putAll(firstMoments);
    expAvgSq.clear();
    expAvgSq.putAll(secondMoments);
  }

  /** First moments by parameter name (for checkpoints). */
  public Map<String, NDArray> expAvg() {
    return expAvg;
  }

  /** Second moments by parameter name (for checkpoints). */
  public Map<String, NDArray> expAvgSq() {
    return expAvgSq;
  }
}
