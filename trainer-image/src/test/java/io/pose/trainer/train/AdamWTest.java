package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
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
}
