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
  private final long groupElements;
  private long step;

  /** At most this many values per fused update (its temporaries: 256 MiB in fp32). */
  static final long GROUP_ELEMENTS = 64L << 20;

  public AdamW(double beta1, double beta2, double eps, double weightDecay) {
    this(beta1, beta2, eps, weightDecay, GROUP_ELEMENTS);
  }

  /** @param groupElements at most this many values per fused update (a multiple of 16) */
  AdamW(double beta1, double beta2, double eps, double weightDecay, long groupElements) {
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.groupElements = groupElements;
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
    // parameters in groups of at most groupElements values: one call each, bounded temporary memory
    List<String> names = new ArrayList<>();
    List<NDArray> params = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
      if (gradients.containsKey(e.getKey())) {
        names.add(e.getKey());
        params.add(e.getValue());
      }
    }
    long[] sizes = params.stream().mapToLong(p -> p.getShape().size()).toArray();
    List<NDArray> chunks = new ArrayList<>();
    try {
      for (List<Part> group : groups(sizes, groupElements)) {
        List<NDArray> ps = new ArrayList<>();
        List<NDArray> gs = new ArrayList<>();
        List<NDArray> ms = new ArrayList<>();
        List<NDArray> vs = new ArrayList<>();
        for (Part part : group) {
          String name = names.get(part.param());
          NDArray p = params.get(part.param());
          NDArray g = gradients.get(name);
          NDArray m = expAvg.computeIfAbsent(name, k -> p.zerosLike());
          NDArray v = expAvgSq.computeIfAbsent(name, k -> p.zerosLike());
          ps.add(of(p, part, chunks));
          gs.add(of(g, part, chunks));
          ms.add(of(m, part, chunks));
          vs.add(of(v, part, chunks));
        }
        FusedOps.adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, weightDecay, bias1, bias2Sqrt);
      }
    } finally {
      chunks.forEach(NDArray::close);
    }
  }

  /**
   * A part of a parameter in a fused update: elements [from, from + count) of parameter param (in the order
   * given), or all of it (whole).
   */
  record Part(int param, long from, long count, boolean whole) {}

  /**
   * The fused updates for parameters of these sizes: greedy groups of at most groupElements values, in order; a
   * parameter larger than a group is split into parts of groupElements values (the last part may be shorter).
   */
  static List<List<Part>> groups(long[] sizes, long groupElements) {
    List<List<Part>> out = new ArrayList<>();
    List<Part> current = new ArrayList<>();
    long elements = 0;
    for (int i = 0; i < sizes.length; i++) {
      long size = sizes[i];
      for (long from = 0; from < size; from += groupElements) {
        long n = Math.min(groupElements, size - from);
        if (!current.isEmpty() && elements + n > groupElements) {
          out.add(List.copyOf(current));
          current.clear();
          elements = 0;
        }
        current.add(new Part(i, from, n, size <= groupElements));
        elements += n;
      }
    }
    if (!current.isEmpty()) {
      out.add(List.copyOf(current));
    }
    return out;
  }

  /** A part of a tensor: the tensor when the part is whole, else a view of its elements. */
  private static NDArray of(NDArray t, Part part, List<NDArray> opened) {
    return part.whole() ? t : piece(t, part.from(), part.count(), opened);
  }

  /** Elements [from, from + n) of a contiguous tensor, as a 1-d view (updates through it reach the tensor). */
  private static NDArray piece(NDArray t, long from, long n, List<NDArray> opened) {
    NDArray flat = t.getShape().dimension() == 1 ? t : t.reshape(-1);
    if (flat != t) {
      opened.add(flat);
    }
    NDArray view = FusedOps.view(flat, from, new long[] {n});
    opened.add(view);
    return view;
  }

  /** Creates zero moments for parameters that have none (what the first update would create). */
  public void initialize(Map<String, NDArray> parameters) {
    parameters.forEach((name, p) -> {
      expAvg.computeIfAbsent(name, k -> p.zerosLike());
      expAvgSq.computeIfAbsent(name, k -> p.zerosLike());
    });
  }

  public long stepCount() {
    return step;
  }

  /** Restores the state a checkpoint saved (moments by parameter name and the step count). */
  public void restore(long stepCount, Map<String, NDArray> firstMoments, Map<String, NDArray> secondMoments) {
    this.step = stepCount;
    expAvg.values().forEach(NDArray::close);
    expAvgSq.values().forEach(NDArray::close);
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
