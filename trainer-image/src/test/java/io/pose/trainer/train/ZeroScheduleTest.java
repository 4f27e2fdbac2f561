package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.dist.ForwardingCollective;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.Parameters;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What ZeRO holds when, as the memory plan counts it: under ZeRO 3 with recomputation, the root unit, the layer
 * running and the next one, prefetched (and nothing more); every layer without; each unit's leaves only while it
 * runs. And what it leaves behind: closing a ZeRO model at any point of a step waits for every collective still
 * writing into its buffers, then frees every tensor it made. ZeroTest shows the results are right; this test shows
 * the schedule, which results cannot see.
 */
class ZeroScheduleTest {

  static final long[] IDS = {1, 17, 42, 5, 99, 3, 77, 60, 11, 23, 90, 8, 1, 64, 2, 127, 31, 8, 8, 45, 19, 100, 7, 33};
  static final int[][] POSITIONS = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};

  static ModelConfig config() throws IOException {
    return HfConfigs.read(TrainerTest.MODEL.resolve("config.json"));
  }

  /** A collective that records every asynchronous operation and whether it was awaited. */
  static class Recording extends ForwardingCollective {
    final List<String> operations = new ArrayList<>();
    final List<boolean[]> awaited = new ArrayList<>();

    Recording() {
      super(SingleRank.INSTANCE);
    }

    Pending track(String what, Pending p) {
      boolean[] done = new boolean[1];
      operations.add(what);
      awaited.add(done);
      return () -> {
        p.await();
        done[0] = true;
      };
    }

    boolean allAwaited() {
      return awaited.stream().allMatch(d -> d[0]);
    }

    @Override
    public Pending allGatherAsync(NDArray shard, NDArray full) {
      return track("all-gather " + full.size(), inner.allGatherAsync(shard, full));
    }

    @Override
    public Pending reduceScatterAsync(NDArray full, NDArray shard) {
      return track("reduce-scatter " + full.size(), inner.reduceScatterAsync(full, shard));
    }
  }

  /** The decoder's view of a ZeRO model, recording after each call what is gathered and which leaves are live. */
  static class Probe implements Parameters {
    final ZeroModel model;
    final List<String> trace = new ArrayList<>();

    Probe(ZeroModel model) {
      this.model = model;
    }

    void record(String hook, int unit) {
      List<String> leaves = new ArrayList<>();
      for (ShardLayout.Unit u : model.layout().units()) {
        try {
          model.get(u.params().get(0).name());
          leaves.add(u.name());
        } catch (IllegalStateException e) {
          // not live
        }
      }
      trace.add(hook + " " + unit + ": gathered " + model.gatheredUnits() + ", leaves " + leaves);
    }

    @Override
    public NDArray get(String name) {
      return model.get(name);
    }

    @Override
    public boolean layerwise() {
      return model.layerwise();
    }

    @Override
    public void beforeForward(int unit) {
      model.beforeForward(unit);
      record("beforeForward", unit);
    }

    @Override
    public void afterForward(int unit) {
      model.afterForward(unit);
      record("afterForward", unit);
    }

    @Override
    public void beforeBackward(int unit) {
      model.beforeBackward(unit);
      record("beforeBackward", unit);
    }

    @Override
    public void afterBackward(int unit) {
      model.afterBackward(unit);
      record("afterBackward", unit);
    }
  }

  static List<String> step(ModelConfig config, int stage, boolean recompute, NDManager m, Recording collective)
      throws IOException {
    try (Checkpoint weights = Checkpoint.open(TrainerTest.MODEL);
        ZeroModel model = ZeroModel.load(config, stage, collective, m, recompute, weights)) {
      Probe probe = new Probe(model);
      Decoder decoder = new Decoder(config, probe, ComputeType.FP32);
      try (NDManager scope = m.newSubManager()) {
        NDArray ids = scope.create(IDS, new Shape(2, 12));
        decoder.lossAndGradients(ids, POSITIONS, ids, 1.0, recompute);
      }
      model.finishGradients();
      return probe.trace;
    }
  }

  @Test
  void zero3WithRecomputationHoldsTheRootTheLayerRunningAndTheNextOne() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Recording collective = new Recording();
      List<String> trace = step(config(), 3, true, m, collective);
      // units: 0 the root (embedding, final norm, head), 1 and 2 the two layers; the root's afterForward and
      // beforeBackward are not called (its weights are in use throughout)
      assertThat(trace).containsExactly(
          "beforeForward 0: gathered [0, 1], leaves [root]",
          "beforeForward 1: gathered [0, 1, 2], leaves [root, layers.0]",
          "afterForward 1: gathered [0, 2], leaves [root]",
          "beforeForward 2: gathered [0, 2], leaves [root, layers.1]",
          "afterForward 2: gathered [0, 2], leaves [root, layers.1]",
          "beforeBackward 2: gathered [0, 1, 2], leaves [root, layers.1]",
          "afterBackward 2: gathered [0, 1], leaves [root]",
          "beforeBackward 1: gathered [0, 1], leaves [root, layers.0]",
          "afterBackward 1: gathered [0], leaves [root]",
          "afterBackward 0: gathered [], leaves []");
      // layer 0 is gathered twice (its forward, then its recomputed backward); its gradients scattered after each
      // unit's backward, the root's last
      ModelConfig c = config();
      ShardLayout layout = ShardLayout.of(c, 1);
      long root = layout.units().get(0).flatSize();
      long layer = layout.units().get(1).flatSize();
      assertThat(collective.operations).containsExactly("all-gather " + root, "all-gather " + layer,
          "all-gather " + layer, "all-gather " + layer, "reduce-scatter " + layer, "reduce-scatter " + layer,
          "reduce-scatter " + root);
      assertThat(collective.allAwaited()).isTrue();
    }
  }

  @Test
  void zero3WithoutRecomputationKeepsEveryLayerFromItsForwardToItsBackward() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      List<String> trace = step(config(), 3, false, m, new Recording());
      assertThat(trace).containsExactly(
          "beforeForward 0: gathered [0, 1], leaves [root]",
          "beforeForward 1: gathered [0, 1, 2], leaves [root, layers.0]",
          "afterForward 1: gathered [0, 1, 2], leaves [root, layers.0]",
          "beforeForward 2: gathered [0, 1, 2], leaves [root, layers.0, layers.1]",
          "afterForward 2: gathered [0, 1, 2], leaves [root, layers.0, layers.1]",
          "beforeBackward 2: gathered [0, 1, 2], leaves [root, layers.0, layers.1]",
          "afterBackward 2: gathered [0, 1], leaves [root, layers.0]",
          "beforeBackward 1: gathered [0, 1], leaves [root, layers.0]",
          "afterBackward 1: gathered [0], leaves [root]",
          "afterBackward 0: gathered [], leaves []");
    }
  }

  /** Stages 2 and 3 need each unit's gradients as soon as its backward is done; 0 and 1 let autograd sum them. */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3})
  void onlyShardedGradientsRunTheBackwardOneLayerAtATime(int stage) throws IOException {
    try (NDManager m = NDManager.newBaseManager(); Checkpoint weights = Checkpoint.open(TrainerTest.MODEL);
        ZeroModel model = ZeroModel.load(config(), stage, new Recording(), m, false, weights)) {
      assertThat(model.layerwise()).isEqualTo(stage >= 2);
    }
  }

  /**
   * Closed at any point of a step, a ZeRO model first waits for every collective still writing into its buffers,
   * then frees every tensor it made: its weights, shards, gathered units, leaves, packed gradients in flight and the
   * step's gradients.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 17, 19, 21})
  void closedAtAnyPointOfAStepItWaitsForItsCollectivesAndFreesEverything(int stopAfter) throws IOException {
    ModelConfig c = config();
    for (int stage = 0; stage <= 3; stage++) {
      for (boolean recompute : new boolean[] {false, true}) {
        try (NDManager base = NDManager.newBaseManager()) {
          NDManager m = base.newSubManager();
          Recording collective = new Recording();
          ZeroModel model;
          try (Checkpoint weights = Checkpoint.open(TrainerTest.MODEL)) {
            model = ZeroModel.load(c, stage, collective, m, recompute, weights);
          }
          int[] calls = {0};
          String where = "ZeRO " + stage + (recompute ? " recomputing" : "") + ", closed after call " + stopAfter;
          class Stop extends RuntimeException {}
          Parameters stopping = new Probe(model) {
            @Override
            void record(String hook, int unit) {
              if (calls[0]++ == stopAfter) {
                throw new Stop();
              }
            }
          };
          boolean finished = false;
          try (NDManager scope = m.newSubManager()) {
            NDArray ids = scope.create(IDS, new Shape(2, 12));
            // two micro-batches: the second's gradients are added to the first's
            Decoder decoder = new Decoder(c, stopping, ComputeType.FP32);
            decoder.lossAndGradients(ids, POSITIONS, ids, 0.5, recompute);
            decoder.lossAndGradients(ids, POSITIONS, ids, 0.5, recompute);
            model.finishGradients();
            java.util.Map<String, NDArray> gradients = model.ownedGradients(); // views the caller closes
            assertThat(model.gradientNorm(gradients)).isPositive();
            gradients.values().forEach(NDArray::close);
            finished = true;
          } catch (Stop stop) {
            // the step ends here, as a failing rank's would
          }
          model.close();
          assertThat(collective.allAwaited()).as(where).isTrue();
          assertThat(m.getManagedArrays()).as(where + (finished ? " (the step finished)" : "")).isEmpty();
          assertThatThrownBy(() -> model.get("model.embed_tokens.weight")).as(where)
              .isInstanceOf(IllegalStateException.class);
        }
      }
    }
  }

  /**
   * Under ZeRO 0 every rank holds every unit whole and the ranks share the writing of a checkpoint: rank 1 of 3
   * saves the second third of each unit, read from where that third lies in its whole buffer. (Three ranks: with
   * two, an offset counted back from the end of the buffer would land on the same place.)
   */
  @Test
  void underZero0TheSecondRankSavesTheSecondThirdOfEachUnitFromItsWholeBuffer() throws IOException {
    ModelConfig c = config();
    Recording second = new Recording() {
      @Override
      public int rank() {
        return 1;
      }

      @Override
      public int worldSize() {
        return 3;
      }
    };
    try (NDManager m = NDManager.newBaseManager(); Checkpoint weights = Checkpoint.open(TrainerTest.MODEL);
        ZeroModel model = ZeroModel.load(c, 0, second, m, false, weights)) {
      int checked = 0;
      for (ShardLayout.Unit u : model.layout().units()) {
        NDArray whole = model.ownedWeights().get(u.name());
        assertThat(whole.size()).isEqualTo(u.flatSize());
        long third = u.shardSize();
        for (ShardLayout.Piece p : model.savedPieces(u)) {
          assertThat(p.param().offset() + p.begin()).as(p.param().name()).isGreaterThanOrEqualTo(third).isLessThan(2 * third);
          assertThat(ZeroModel.values(whole, p, 0, (int) p.count())).as(p.param().name())
              .containsExactly(weights.floats(p.param().name(), p.begin(), (int) p.count()));
          checked++;
        }
      }
      assertThat(checked).isPositive();
      assertThat(second.operations).as("ZeRO 0 loads without collectives").isEmpty();
    }
  }

  /** A piece's values are read in chunks: [from, from + count) of the piece, where the piece lies in the buffer. */
  @Test
  void aPiecesValuesAreReadFromAnOffsetInsideIt() throws IOException {
    ShardLayout.Unit root = ShardLayout.of(config(), 1).units().get(0);
    ShardLayout.Param norm = root.params().get(1);
    ShardLayout.Piece piece = new ShardLayout.Piece(norm, 4, 10, 100);
    try (NDManager m = NDManager.newBaseManager()) {
      float[] flat = new float[200];
      for (int i = 0; i < flat.length; i++) {
        flat[i] = i;
      }
      NDArray buffer = m.create(flat);
      assertThat(ZeroModel.values(buffer, piece, 0, 3)).containsExactly(100, 101, 102);
      assertThat(ZeroModel.values(buffer, piece, 6, 4)).containsExactly(106, 107, 108, 109);
    }
  }
}
