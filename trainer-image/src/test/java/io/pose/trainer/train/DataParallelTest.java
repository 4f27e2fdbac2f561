package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.data.TokenFile;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data parallelism behind the Collective interface: two ranks (threads sharing memory), each training on half of
 * every step's samples, end where one rank accumulating the whole step ends, and stay identical to each other.
 */
class DataParallelTest {

  @TempDir
  static Path shared;

  @BeforeAll
  static void corpus() throws IOException {
    TrainerTest.shared = shared;
    TrainerTest.corpus();
  }

  static TrainingPlan plan(int ranks) {
    return new TrainingPlan(4, 8, 2, ranks, new LearningRateSchedule(3e-3, 1, 4, LrSchedule.COSINE), 0.9, 0.95, 1e-8,
        0.01, 1.0, 2, 2, 0, false);
  }

  /** Trains one rank to the end; returns its weights and step results. */
  static Map.Entry<Map<String, float[]>, List<StepResult>> rank(Collective c, Path checkpoints) throws IOException {
    try (NDManager m = NDManager.newBaseManager(); TokenFile data = TokenFile.open(shared.resolve("corpus.tokens"));
        Checkpoint base = Checkpoint.open(TrainerTest.MODEL)) {
      DecoderWeights weights = DecoderWeights.load(TrainerTest.config, base, m);
      SampleStream stream = new SampleStream(data, Samplers.official(TrainerTest.LC, TrainerTest.LT), 5, TrainerTest.LC);
      Trainer t = new Trainer(m, new Decoder(TrainerTest.config, weights, ComputeType.FP32), weights, stream,
          plan(c.worldSize()), new CheckpointStore(checkpoints), "dp", c);
      List<StepResult> results = t.run(4, r -> { });
      return Map.entry(TrainerTest.snapshot(weights), results);
    }
  }

  @Test
  void twoRanksMatchOneRankAccumulatingTheWholeStep(@TempDir Path tmp) throws Exception {
    var single = rank(new InProcessGroup(1).member(0), tmp.resolve("single"));
    InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(2));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<Map.Entry<Map<String, float[]>, List<StepResult>>>> ranks = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        Collective member = group.member(r);
        ranks.add(pool.submit(() -> {
          try {
            return rank(member, tmp.resolve("dp"));
          } catch (Throwable e) {
            group.abort();
            throw e;
          }
        }));
      }
      var rank0 = ranks.get(0).get();
      var rank1 = ranks.get(1).get();
      for (String name : single.getKey().keySet()) {
        assertThat(rank1.getKey().get(name)).as("ranks stay identical: " + name).containsExactly(rank0.getKey().get(name));
        float[] expected = single.getKey().get(name);
        float[] actual = rank0.getKey().get(name);
        for (int i = 0; i < expected.length; i++) {
          // the same sums, taken in another order
          assertThat(actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(2e-5f));
        }
      }
      for (int s = 0; s < 4; s++) {
        StepResult one = single.getValue().get(s);
        StepResult two = rank0.getValue().get(s);
        assertThat(two.loss()).isCloseTo(one.loss(), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(two.tokens()).isEqualTo(one.tokens());
        assertThat(two.maxPosition()).isEqualTo(one.maxPosition());
        assertThat(two.gradNorm()).isCloseTo(one.gradNorm(), org.assertj.core.data.Offset.offset(1e-5 * one.gradNorm()));
      }
      try (var dirs = Files.list(tmp.resolve("dp"))) {
        assertThat(dirs.map(p -> p.getFileName().toString()).sorted().toList()).as("rank 0 wrote the checkpoints")
            .containsExactly("step-00000002", "step-00000004");
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aFailingRankReleasesTheOthers() throws Exception {
    InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(1));
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<?> waiting = pool.submit(() -> group.member(1).barrier());
      Thread.sleep(100);
      group.abort(); // what a rank does when it fails
      assertThatThrownBy(waiting::get).hasRootCauseInstanceOf(java.util.concurrent.BrokenBarrierException.class)
          .hasMessageContaining("another rank failed");
    } finally {
      pool.shutdownNow();
    }
    assertThatThrownBy(() -> new Trainer(null, null, null, null, plan(2), null, "x", new InProcessGroup(3).member(0)))
        .hasMessageContaining("2 data-parallel ranks, the collective 3");
  }
}
