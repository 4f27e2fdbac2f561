package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.CollectiveException;
import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.dist.SocketGroup;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.TensorSource;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ZeRO stages 0-3 on 2 and 4 ranks (threads sharing memory, and ranks over TCP) train the tiny Llama exactly as one
 * rank accumulating the whole step does: the same losses and final weights, up to the order in which gradients are
 * summed over ranks (stated tolerances), and bit for bit where that order is the same. A run resumes at another
 * world size and stage from the re-shardable checkpoints.
 */
class ZeroTest {

  @TempDir
  static Path shared;
  static ExecutorService pool;

  /** fp32: the sums over ranks and micro-batches are taken in another order; a few ulps after 4 AdamW steps. */
  static final float FP32_WEIGHTS = 2e-5f;
  /**
   * bf16 and fp16 products (fp16 with its loss scale, unscaled over shards): the same order effect, amplified by the
   * rounding of values that differ by an ulp.
   */
  static final float BF16_WEIGHTS = 2e-3f;

  @BeforeAll
  static void corpus() throws IOException {
    TrainerTest.shared = shared;
    TrainerTest.corpus();
    pool = Executors.newCachedThreadPool();
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  /** 4 steps of 8 samples, micro-batches of 1 (4 ranks x 2, 2 ranks x 4, 1 rank x 8), clipping active. */
  static TrainingPlan plan(int ranks, double maxGradNorm, boolean recompute) {
    return new TrainingPlan(4, 8, 1, ranks, new LearningRateSchedule(3e-3, 1, 4, LrSchedule.COSINE), 0.9, 0.95, 1e-8,
        0.01, maxGradNorm, 2, 2, 0, recompute);
  }

  /** The same run with micro-batches of two samples (4 ranks x 1, 2 ranks x 2, 1 rank x 4 of them). */
  static TrainingPlan planOfPairs(int ranks, double maxGradNorm) {
    return new TrainingPlan(4, 8, 2, ranks, new LearningRateSchedule(3e-3, 1, 4, LrSchedule.COSINE), 0.9, 0.95, 1e-8,
        0.01, maxGradNorm, 2, 2, 0, false);
  }

  /** What a rank ended with. */
  record Outcome(List<StepResult> steps, Map<String, float[]> weights) {}

  /** Trains every rank of a run to the given step, each on its own thread; returns their outcomes by rank. */
  static List<Outcome> train(int ranks, int stage, ComputeType compute, TrainingPlan plan, Path checkpoints,
      CheckpointStore.Saved resume, int until, IntFunction<Collective> members) throws Exception {
    List<Future<Outcome>> futures = new ArrayList<>();
    for (int r = 0; r < ranks; r++) {
      int rank = r;
      futures.add(pool.submit(() -> {
        Collective c = members.apply(rank);
        try (TensorSource weights = resume == null ? Checkpoint.open(TrainerTest.MODEL) : CheckpointStore.open(resume);
            TrainerTest.Run run = TrainerTest.run(weights, plan, checkpoints, "zero", compute, stage, c)) {
          if (resume != null) {
            run.trainer().resumeFrom(resume, (CheckpointStore.Stored) weights);
          }
          List<StepResult> steps = run.trainer().run(until, s -> { });
          return new Outcome(steps, run.model().gatherAll());
        } catch (Throwable e) {
          c.abort(e.toString());
          throw e;
        } finally {
          c.close();
        }
      }));
    }
    List<Outcome> out = new ArrayList<>();
    for (Future<Outcome> f : futures) {
      out.add(f.get());
    }
    return out;
  }

  static List<Outcome> threads(int ranks, int stage, ComputeType compute, TrainingPlan plan, Path checkpoints)
      throws Exception {
    InProcessGroup group = new InProcessGroup(ranks, Duration.ofMinutes(2));
    return train(ranks, stage, compute, plan, checkpoints, null, plan.steps(), group::member);
  }

  static Outcome single(ComputeType compute, TrainingPlan plan, Path checkpoints) throws Exception {
    return train(1, 0, compute, plan, checkpoints, null, plan.steps(), r -> SingleRank.INSTANCE).get(0);
  }

  static Stream<Arguments> stagesAndRanks() {
    List<Arguments> out = new ArrayList<>();
    for (ComputeType compute : ComputeType.values()) {
      for (int stage = 0; stage <= 3; stage++) {
        for (int ranks : new int[] {2, 4}) {
          out.add(Arguments.of(stage, ranks, compute));
        }
      }
    }
    return out.stream();
  }

  static final Map<ComputeType, Outcome> SINGLE = new java.util.concurrent.ConcurrentHashMap<>();

  @ParameterizedTest(name = "ZeRO {0}, {1} ranks, {2}")
  @MethodSource("stagesAndRanks")
  void everyStageTrainsLikeOneRankAccumulatingTheWholeStep(int stage, int ranks, ComputeType compute, @TempDir Path tmp)
      throws Exception {
    Outcome one = SINGLE.computeIfAbsent(compute, c -> {
      try {
        return single(c, plan(1, 1.0, false), Files.createTempDirectory(shared, "single"));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    List<Outcome> many = threads(ranks, stage, compute, plan(ranks, 1.0, stage == 3), tmp);
    float tolerance = compute == ComputeType.FP32 ? FP32_WEIGHTS : BF16_WEIGHTS;
    for (int r = 1; r < ranks; r++) {
      for (String name : one.weights().keySet()) {
        assertThat(many.get(r).weights().get(name)).as("rank %d holds what rank 0 holds: %s", r, name)
            .containsExactly(many.get(0).weights().get(name));
      }
    }
    for (int s = 0; s < 4; s++) {
      StepResult a = one.steps().get(s);
      StepResult b = many.get(0).steps().get(s);
      assertThat(b.loss()).as("loss of step %d", s + 1).isCloseTo(a.loss(), offset(compute == ComputeType.FP32 ? 1e-5 : 2e-3));
      assertThat(b.gradNorm()).as("gradient norm of step %d", s + 1)
          .isCloseTo(a.gradNorm(), offset((compute == ComputeType.FP32 ? 1e-5 : 1e-2) * a.gradNorm()));
      assertThat(b.tokens()).isEqualTo(a.tokens());
      assertThat(b.maxPosition()).isEqualTo(a.maxPosition());
    }
    for (String name : one.weights().keySet()) {
      float[] expected = one.weights().get(name);
      float[] actual = many.get(0).weights().get(name);
      for (int i = 0; i < expected.length; i++) {
        assertThat(actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], offset(tolerance));
      }
    }
    // the checkpoints are the run's: one shard per rank, at every stage (under ZeRO 0 the ranks share the writing)
    try (Stream<Path> files = Files.list(tmp.resolve("step-00000004"))) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted()).containsExactlyElementsOf(
          shardNames(ranks));
    }
  }

  static List<String> shardNames(int shards) {
    List<String> names = new ArrayList<>();
    for (int r = 0; r < shards; r++) {
      names.add(CheckpointStore.shardName(r, shards));
    }
    names.add(CheckpointStore.STATE_FILE);
    return names;
  }

  /**
   * Where the order of the sums is the same, the results are the same bits: ZeRO 1 reduces like ZeRO 0 (all-reduce)
   * and only updates shards; ZeRO 3 reduces like ZeRO 2 (reduce-scatter per unit) and only gathers weights (exact
   * copies); recomputation gives ZeRO 3 the gradients it had without. Clipping off (its norm is summed in another
   * order by sharded stages).
   */
  @Test
  void stagesThatSumInTheSameOrderAgreeBitForBit(@TempDir Path tmp) throws Exception {
    for (ComputeType compute : new ComputeType[] {ComputeType.FP32, ComputeType.BF16}) {
      Map<String, float[]> zero0 = threads(2, 0, compute, plan(2, 0, false), tmp.resolve(compute + "0")).get(0).weights();
      Map<String, float[]> zero1 = threads(2, 1, compute, plan(2, 0, false), tmp.resolve(compute + "1")).get(0).weights();
      Map<String, float[]> zero2 = threads(2, 2, compute, plan(2, 0, false), tmp.resolve(compute + "2")).get(0).weights();
      Map<String, float[]> zero3 = threads(2, 3, compute, plan(2, 0, false), tmp.resolve(compute + "3")).get(0).weights();
      Map<String, float[]> zero3r = threads(2, 3, compute, plan(2, 0, true), tmp.resolve(compute + "3r")).get(0).weights();
      for (String name : zero0.keySet()) {
        assertThat(zero1.get(name)).as("%s ZeRO 1 vs 0: %s", compute, name).containsExactly(zero0.get(name));
        assertThat(zero3.get(name)).as("%s ZeRO 3 vs 2: %s", compute, name).containsExactly(zero2.get(name));
        assertThat(zero3r.get(name)).as("%s ZeRO 3 with recomputation: %s", compute, name).containsExactly(zero3.get(name));
      }
    }
  }

  @Test
  void ranksOverTcpTrainBitForBitLikeRanksSharingMemory(@TempDir Path tmp) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    var where = new SocketGroup.Rendezvous("127.0.0.1", port, "zero", Duration.ofMinutes(1), Duration.ofMinutes(1));
    TrainingPlan plan = plan(2, 1.0, true);
    List<Outcome> tcp = train(2, 3, ComputeType.BF16, plan, tmp.resolve("tcp"), null, 4, r -> SocketGroup.join(r, 2, where));
    List<Outcome> mem = threads(2, 3, ComputeType.BF16, plan, tmp.resolve("mem"));
    for (String name : mem.get(0).weights().keySet()) {
      assertThat(tcp.get(0).weights().get(name)).as(name).containsExactly(mem.get(0).weights().get(name));
    }
    assertThat(tcp.get(0).steps()).extracting(StepResult::loss)
        .containsExactlyElementsOf(mem.get(0).steps().stream().map(StepResult::loss).toList());
  }

  /** 2 ranks at ZeRO 3 stop after step 2; 4 ranks at ZeRO 1 (and 1 rank at ZeRO 0) resume and end where it would. */
  @Test
  void aRunResumesAtAnotherWorldSizeAndStage(@TempDir Path tmp) throws Exception {
    TrainingPlan two = plan(2, 1.0, false);
    List<Outcome> straight = threads(2, 3, ComputeType.FP32, two, tmp.resolve("straight"));
    Path checkpoints = tmp.resolve("resharded");
    InProcessGroup first = new InProcessGroup(2, Duration.ofMinutes(1));
    train(2, 3, ComputeType.FP32, two, checkpoints, null, 2, first::member);
    CheckpointStore.Saved saved = new CheckpointStore(checkpoints).latest().orElseThrow();
    assertThat(saved.step()).isEqualTo(2);
    assertThat(saved.worldSize()).isEqualTo(2);
    assertThat(saved.zeroStage()).isEqualTo(3);

    InProcessGroup four = new InProcessGroup(4, Duration.ofMinutes(1));
    List<Outcome> resumed = train(4, 1, ComputeType.FP32, plan(4, 1.0, false), checkpoints, saved, 4, four::member);
    assertThat(resumed.get(0).steps()).extracting(StepResult::step).containsExactly(3, 4);
    List<Outcome> alone = train(1, 0, ComputeType.FP32, plan(1, 1.0, false), tmp.resolve("alone"), saved, 4,
        r -> SingleRank.INSTANCE);
    for (String name : straight.get(0).weights().keySet()) {
      float[] expected = straight.get(0).weights().get(name);
      for (Outcome o : List.of(resumed.get(0), alone.get(0))) {
        float[] actual = o.weights().get(name);
        for (int i = 0; i < expected.length; i++) {
          assertThat(actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], offset(FP32_WEIGHTS));
        }
      }
    }
    for (int s = 0; s < 2; s++) {
      assertThat(resumed.get(0).steps().get(s).loss()).isCloseTo(straight.get(0).steps().get(s + 2).loss(), offset(1e-5));
    }
    CheckpointStore.Saved last = new CheckpointStore(checkpoints).latest().orElseThrow();
    assertThat(last.worldSize()).isEqualTo(4);
    try (Stream<Path> files = Files.list(last.directory())) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted()).containsExactlyElementsOf(shardNames(4));
    }
  }

  /** A rank that fails mid-run (here: it aborts after its first step) fails the others at once, naming it. */
  @Test
  void aRankThatFailsMidRunFailsTheOthers(@TempDir Path tmp) throws Exception {
    InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(5));
    long start = System.nanoTime();
    List<Future<Object>> ranks = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      int rank = r;
      ranks.add(pool.submit(() -> {
        Collective c = group.member(rank);
        try (Checkpoint base = Checkpoint.open(TrainerTest.MODEL);
            TrainerTest.Run run = TrainerTest.run(base, plan(2, 1.0, false), tmp, "zero", ComputeType.FP32, 3, c)) {
          run.trainer().run(1, s -> { });
          if (rank == 1) {
            c.abort("rank 1 lost its GPU");
            return "failed";
          }
          run.trainer().run(4, s -> { });
          return "unexpected";
        }
      }));
    }
    assertThat(ranks.get(1).get()).isEqualTo("failed");
    assertThatThrownBy(() -> ranks.get(0).get()).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(CollectiveException.class).hasMessageContaining("rank 1 lost its GPU");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMinutes(1));
  }

  @Test
  void theWorldMustMatchThePlan() {
    assertThatThrownBy(() -> {
      try (Checkpoint base = Checkpoint.open(TrainerTest.MODEL);
          TrainerTest.Run run = TrainerTest.run(base, plan(2, 1.0, false), shared, "x", ComputeType.FP32, 0,
              new InProcessGroup(3).member(0))) {
        return;
      }
    }).hasMessageContaining("2 data-parallel ranks, the collective 3");
  }

  /**
   * With micro-batches of two, each rank still reads its own contiguous share of the global batch (rank r from
   * sample r x accumulation x micro-batch): two ranks of two micro-batches of two train as one rank of eight samples.
   */
  @Test
  void microBatchesOfTwoSplitTheGlobalBatchLikeMicroBatchesOfOne(@TempDir Path tmp) throws Exception {
    Outcome one = single(ComputeType.FP32, plan(1, 1.0, false), tmp.resolve("one"));
    for (int ranks : new int[] {1, 2}) {
      InProcessGroup group = new InProcessGroup(ranks, Duration.ofMinutes(2));
      List<Outcome> pairs = train(ranks, 0, ComputeType.FP32, planOfPairs(ranks, 1.0), tmp.resolve("pairs" + ranks),
          null, 4, group::member);
      for (int s = 0; s < 4; s++) {
        assertThat(pairs.get(0).steps().get(s).loss()).as("%d ranks: loss of step %d", ranks, s + 1)
            .isCloseTo(one.steps().get(s).loss(), offset(1e-5));
        assertThat(pairs.get(0).steps().get(s).tokens()).isEqualTo(one.steps().get(s).tokens());
      }
      for (String name : one.weights().keySet()) {
        float[] expected = one.weights().get(name);
        float[] actual = pairs.get(0).weights().get(name);
        for (int i = 0; i < expected.length; i++) {
          assertThat(actual[i]).as("%d ranks: %s[%d]", ranks, name, i).isCloseTo(expected[i], offset(FP32_WEIGHTS));
        }
      }
    }
  }
}
