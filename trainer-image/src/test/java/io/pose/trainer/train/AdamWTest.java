package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** AdamW's grouping: parameters larger than a group are updated in pieces, with the same results bit for bit. */
class AdamWTest {

  static float[] random(int n, long seed) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  static Map<String, float[]> steps(long groupElements) {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<String, NDArray> params = new LinkedHashMap<>();
      params.put("big", m.create(random(5000, 1), new Shape(50, 100)));
      params.put("small", m.create(random(300, 2)));
      params.put("flat", m.create(random(4100, 3)));
      AdamW adam = new AdamW(0.9, 0.95, 1e-8, 0.01, groupElements);
      for (int step = 0; step < 3; step++) {
        Map<String, NDArray> grads = new LinkedHashMap<>();
        int s = step;
        params.forEach((k, p) -> grads.put(k, m.create(random((int) p.getShape().size(), 10 + s + k.length()),
            p.getShape())));
        adam.step(params, grads, 1e-2);
      }
      Map<String, float[]> out = new LinkedHashMap<>();
      params.forEach((k, p) -> out.put(k, p.toFloatArray()));
      adam.expAvgSq().forEach((k, v) -> out.put("v/" + k, v.toFloatArray()));
      return out;
    }
  }

  @Test
  void parametersLargerThanAGroupAreUpdatedInPiecesWithTheSameResults() {
    Map<String, float[]> whole = steps(AdamW.GROUP_ELEMENTS);
    Map<String, float[]> pieces = steps(1024); // big: 5 pieces, flat: 5, small: grouped with a neighbour's piece
    for (String k : whole.keySet()) {
      assertThat(pieces.get(k)).as(k).containsExactly(whole.get(k));
    }
  }

  @Test
  void momentsExistBeforeTheFirstUpdate() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AdamW adam = new AdamW(0.9, 0.95, 1e-8, 0.0);
      adam.initialize(Map.of("w", m.create(new float[] {1, 2, 3})));
      assertThat(adam.expAvg().get("w").toFloatArray()).containsExactly(0, 0, 0);
      assertThat(adam.expAvgSq().get("w").toFloatArray()).containsExactly(0, 0, 0);
      assertThat(adam.stepCount()).isZero();
    }
  }

  /**
   * The groups: at most groupElements values each, greedy (a group closes only when the next part would not fit),
   * every element of every parameter in exactly one part, in order, no empty part, a parameter that fits a group
   * whole.
   */
  @Test
  void groupsAreGreedyBoundedAndCoverEveryElementOnce() {
    long[][] cases = {{5000, 300, 4100}, {1024, 1024, 1}, {1023, 2, 1024, 2048}, {1}, {}, {4096}, {3000, 3000},
        {1000, 24, 1}};
    for (long[] sizes : cases) {
      java.util.List<java.util.List<AdamW.Part>> groups = AdamW.groups(sizes, 1024);
      long[] covered = new long[sizes.length];
      int lastParam = -1;
      for (int gi = 0; gi < groups.size(); gi++) {
        java.util.List<AdamW.Part> group = groups.get(gi);
        long total = group.stream().mapToLong(AdamW.Part::count).sum();
        assertThat(total).as("group %d of %s", gi, java.util.Arrays.toString(sizes)).isBetween(1L, 1024L);
        if (gi + 1 < groups.size()) {
          assertThat(total + groups.get(gi + 1).get(0).count()).as("greedy: the next part did not fit").isGreaterThan(1024);
        }
        for (AdamW.Part part : group) {
          assertThat(part.count()).isPositive();
          assertThat(part.param()).isGreaterThanOrEqualTo(lastParam);
          assertThat(part.from()).as("parts in order").isEqualTo(covered[part.param()]);
          assertThat(part.whole()).isEqualTo(sizes[part.param()] <= 1024);
          covered[part.param()] += part.count();
          lastParam = part.param();
        }
      }
      assertThat(covered).containsExactly(sizes);
    }
    assertThat(AdamW.groups(new long[] {1024, 1024, 1}, 1024)).hasSize(3);
    // a group filled exactly still takes its last part
    assertThat(AdamW.groups(new long[] {1000, 24, 1}, 1024)).extracting(List::size).containsExactly(2, 1);
  }

  /** An update closes the handles and views it makes: only the parameters, gradients and moments remain. */
  @Test
  void anUpdateLeavesNoTensorBehind() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<String, NDArray> params = new LinkedHashMap<>();
      params.put("big", m.create(random(5000, 1), new Shape(50, 100)));
      params.put("small", m.create(random(300, 2)));
      for (NDArray p : params.values()) {
        p.setRequiresGradient(true);
        try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
          gc.backward(p.mul(p).sum());
        }
      }
      AdamW adam = new AdamW(0.9, 0.95, 1e-8, 0.01, 1024);
      adam.step(params, 1e-2); // creates the moments
      int after = m.getManagedArrays().size();
      for (int i = 0; i < 3; i++) {
        adam.step(params, 1e-2);
      }
      assertThat(m.getManagedArrays()).hasSize(after);
    }
  }

  /** Restoring replaces the moments: the old ones are freed and none of them stays, whatever its name. */
  @Test
  void restoringReplacesEveryMoment() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AdamW adam = new AdamW(0.9, 0.95, 1e-8, 0.0);
      adam.initialize(Map.of("w", m.create(new float[] {1, 2}), "gone", m.create(new float[] {3})));
      NDArray oldM = adam.expAvg().get("w");
      NDArray oldV = adam.expAvgSq().get("gone");
      adam.restore(7, Map.of("w", m.create(new float[] {0.5f, 0.25f})), Map.of("w", m.create(new float[] {1, 1})));
      assertThat(adam.stepCount()).isEqualTo(7);
      assertThat(adam.expAvg().keySet()).containsExactly("w");
      assertThat(adam.expAvgSq().keySet()).containsExactly("w");
      assertThat(adam.expAvg().get("w").toFloatArray()).containsExactly(0.5f, 0.25f);
      assertThat(oldM.isReleased()).isTrue();
      assertThat(oldV.isReleased()).isTrue();
    }
  }
}
