package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.FusedOps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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

  /** At most this many values per fused update (its temporaries: 256 MiB in fp32). */
  static final long GROUP_ELEMENTS = 64L << 20;

  public AdamW(double beta1, double beta2, double eps, double weightDecay) {
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** Applies one step with this learning rate to every parameter that has a gradient. */
  public void step(Map<String, NDArray> parameters, double lr) {
    Map<String, NDArray> grads = new LinkedHashMap<>();
    try {
      parameters.forEach((name, p) -> {
        if (p.hasGradient()) {
          grads.put(name, p.getGradient());
        }
      });
      step(parameters, grads, lr);
    } finally {
      grads.values().forEach(NDArray::close);
    }
  }

  /**
   * Applies one step with this learning rate to the parameters that have a gradient here (keyed alike): what a
   * rank does with its shards, whose gradients are not autograd's.
   */
  public void step(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double lr) {
    step++;
    double bias1 = 1 - Math.pow(beta1, step);
    double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
    // parameters in groups of at most GROUP_ELEMENTS values: one call each, bounded temporary memory
    List<NDArray> ps = new ArrayList<>();
    List<NDArray> gs = new ArrayList<>();
    List<NDArray> ms = new ArrayList<>();
    List<NDArray> vs = new ArrayList<>();
    long elements = 0;
    for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
      NDArray p = e.getValue();
      NDArray g = gradients.get(e.getKey());
      if (g == null) {
        continue;
      }
      long size = p.getShape().size();
      if (!ps.isEmpty() && elements + size > GROUP_ELEMENTS) {
        FusedOps.adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, weightDecay, bias1, bias2Sqrt);
        ps.clear();
        gs.clear();
        ms.clear();
        vs.clear();
        elements = 0;
      }
      ps.add(p);
      gs.add(g);
      ms.add(expAvg.computeIfAbsent(e.getKey(), k -> p.zerosLike()));
      vs.add(expAvgSq.computeIfAbsent(e.getKey(), k -> p.zerosLike()));
      elements += size;
    }
    if (!ps.isEmpty()) {
      FusedOps.adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, weightDecay, bias1, bias2Sqrt);
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
