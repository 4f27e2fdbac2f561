package io.pose.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The decoder's side of the Parameters seam (what ZeRO relies on): which hooks it calls in one micro-batch, in what
 * order, for each way of running the backward; and, where the backward runs a layer at a time, that each layer's
 * activations and graph are gone once its backward is done.
 */
class DecoderHooksTest {

  static final long[] IDS = {1, 17, 42, 5, 99, 3, 77, 60, 11, 23, 90, 8, 1, 64, 2, 127, 31, 8, 8, 45, 19, 100, 7, 33};
  static final int[][] POSITIONS = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};

  /** The model's weights, recording each hook and how many tensors are alive when it is called. */
  static final class Recorder implements Parameters {
    final DecoderWeights weights;
    final Boolean layerwise;
    final NDManager manager;
    final List<String> calls = new ArrayList<>();
    final List<Integer> live = new ArrayList<>();
    final java.util.Map<String, float[]> gradients = new java.util.TreeMap<>();

    Recorder(DecoderWeights weights, Boolean layerwise, NDManager manager) {
      this.weights = weights;
      this.layerwise = layerwise;
      this.manager = manager;
    }

    void record(String call) {
      calls.add(call);
      live.add(manager.getManagedArrays().size());
    }

    @Override
    public NDArray get(String name) {
      return weights.get(name);
    }

    @Override
    public boolean layerwise() {
      return layerwise == null ? Parameters.super.layerwise() : layerwise;
    }

    @Override
    public void beforeForward(int unit) {
      record("beforeForward " + unit);
    }

    @Override
    public void afterForward(int unit) {
      record("afterForward " + unit);
    }

    @Override
    public void beforeBackward(int unit) {
      record("beforeBackward " + unit);
    }

    @Override
    public void afterBackward(int unit) {
      record("afterBackward " + unit);
    }
  }

  static Recorder step(Boolean layerwise, boolean recompute) throws IOException {
    Path dir = DecoderParityTest.MODELS.resolve("llama");
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    try (NDManager m = NDManager.newBaseManager(); Checkpoint checkpoint = Checkpoint.open(dir)) {
      DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
      weights.all().values().forEach(w -> w.setRequiresGradient(true));
      try (NDManager step = m.newSubManager()) {
        Recorder recorder = new Recorder(weights, layerwise, step);
        NDArray ids = step.create(IDS, new Shape(2, 12));
        double loss = new Decoder(config, recorder, ComputeType.FP32).lossAndGradients(ids, POSITIONS, ids, 1.0,
            recompute);
        assertThat(loss).isPositive();
        weights.all().forEach((name, w) -> recorder.gradients.put(name, w.getGradient().toFloatArray()));
        return recorder;
      }
    }
  }

  /** Everything at once: every unit's weights before the forward, every unit's gradients after the backward. */
  @Test
  void aWholeBackwardCallsBeforeForwardForEveryUnitThenAfterBackwardInReverse() throws IOException {
    Recorder r = step(null, false); // Parameters' default: not layerwise
    assertThat(r.calls).containsExactly("beforeForward 0", "beforeForward 1", "beforeForward 2", "afterBackward 2",
        "afterBackward 1", "afterBackward 0");
  }

  static final List<String> LAYER_BY_LAYER = List.of("beforeForward 0", "beforeForward 1", "afterForward 1",
      "beforeForward 2", "afterForward 2", "beforeBackward 2", "afterBackward 2", "beforeBackward 1", "afterBackward 1",
      "afterBackward 0");

  /**
   * Recomputation runs each layer between its hooks, and a layer's backward (its recomputed forward, its graph, the
   * gradient from above) leaves no more tensors alive than there were before it.
   */
  @Test
  void recomputationRunsEachLayerBetweenItsHooksAndKeepsNothingOfItsBackward() throws IOException {
    for (Boolean layerwise : new Boolean[] {null, true}) {
      Recorder r = step(layerwise, true);
      assertThat(r.calls).containsExactlyElementsOf(LAYER_BY_LAYER);
      for (int unit : new int[] {2, 1}) {
        assertThat(r.live.get(r.calls.indexOf("afterBackward " + unit)))
            .as("tensors alive after layer %d's backward", unit - 1)
            .isLessThanOrEqualTo(r.live.get(r.calls.indexOf("beforeBackward " + unit)));
      }
    }
  }

  /** However the backward runs, the gradients are the same. */
  @Test
  void everyWayOfRunningTheBackwardGivesTheSameGradients() throws IOException {
    Recorder whole = step(null, false);
    for (Recorder other : List.of(step(true, false), step(null, true), step(true, true))) {
      assertThat(other.gradients.keySet()).containsExactlyElementsOf(whole.gradients.keySet());
      whole.gradients.forEach((name, g) -> {
        float[] o = other.gradients.get(name);
        for (int i = 0; i < g.length; i++) {
          assertThat(o[i]).as("%s[%d]", name, i).isCloseTo(g[i], org.assertj.core.data.Offset.offset(1e-6f));
        }
      });
    }
  }

  /**
   * Layerwise without recomputation: each layer's forward graph is kept in a scope of its own until its backward,
   * which frees it (and the gradient that came from above) before the next layer's backward.
   */
  @Test
  void aLayerwiseBackwardFreesEachLayersActivationsOnceItsBackwardIsDone() throws IOException {
    Recorder r = step(true, false);
    assertThat(r.calls).containsExactlyElementsOf(LAYER_BY_LAYER);
    for (int unit : new int[] {2, 1}) {
      int before = r.live.get(r.calls.indexOf("beforeBackward " + unit));
      int after = r.live.get(r.calls.indexOf("afterBackward " + unit));
      assertThat(after).as("tensors alive after layer %d's backward vs before it", unit - 1).isLessThan(before);
    }
    // the forward keeps every layer's graph: more alive at the backward's start than after the first layer's forward
    assertThat(r.live.get(r.calls.indexOf("beforeBackward 2"))).isGreaterThan(r.live.get(r.calls.indexOf("afterForward 1")));
  }
}
