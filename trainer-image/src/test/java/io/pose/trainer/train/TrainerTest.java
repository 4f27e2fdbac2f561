package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.data.TokenFile;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.TensorSource;
import io.pose.trainer.model.Decoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import io.pose.trainer.kernels.ComputeType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** The loop on the tiny Llama with PoSE samples (Lc = 16, Lt = 256; the model was pretrained for 64 positions). */
class TrainerTest {

  static final Path MODEL = Path.of("src/test/resources/tiny-models/llama");
  static final int LC = 16;
  static final int LT = 256;
  static ModelConfig config;

  @TempDir
  static Path shared;
  static Path corpus;

  @BeforeAll
  static void corpus() throws IOException {
    config = HfConfigs.read(MODEL.resolve("config.json"));
    // learnable documents: counting sequences (next token = this token + 1, mod 128) from random starts
    Random r = new Random(11);
    List<int[]> docs = new ArrayList<>();
    for (int d = 0; d < 64; d++) {
      int[] doc = new int[LC + r.nextInt(3 * LC)];
      int t = r.nextInt(128);
      for (int i = 0; i < doc.length; i++) {
        doc[i] = (t + i) % 128;
      }
      docs.add(doc);
    }
    corpus = shared.resolve("corpus.tokens");
    TokenFile.write(corpus, docs, 128);
  }

  static TrainingPlan plan(int steps, int checkpointEvery, int keep) {
    return new TrainingPlan(steps, 8, 4, 1, new LearningRateSchedule(3e-3, 3, steps, LrSchedule.COSINE), 0.9, 0.95, 1e-8,
        0.01, 1.0, checkpointEvery, keep, 0, false);
  }

  /** A trainer over the tiny Llama (one rank), starting from the base model or a checkpoint. */
  record Run(NDManager manager, TokenFile data, ZeroModel model, Trainer trainer) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      model.close();
      data.close();
      manager.close();
    }
  }

  static Run run(Path weightsFrom, TrainingPlan plan, Path checkpoints, String identity) throws IOException {
    return run(weightsFrom, plan, checkpoints, identity, ComputeType.FP32);
  }

  static Run run(Path weightsFrom, TrainingPlan plan, Path checkpoints, String identity, ComputeType compute)
      throws IOException {
    try (Checkpoint c = Checkpoint.open(weightsFrom)) {
      return run(c, plan, checkpoints, identity, compute, 0, SingleRank.INSTANCE);
    }
  }

  /** A rank of a run under a ZeRO stage, its weights read from a model directory or a checkpoint. */
  static Run run(TensorSource weights, TrainingPlan plan, Path checkpoints, String identity, ComputeType compute,
      int zeroStage, Collective collective) throws IOException {
    return run(weights, plan, checkpoints, identity, compute, zeroStage, collective, Optional.empty());
  }

  /** The same with this fp16 loss scaler instead of the default one. */
  static Run run(TensorSource weights, TrainingPlan plan, Path checkpoints, String identity, ComputeType compute,
      int zeroStage, Collective collective, LossScaler scaler) throws IOException {
    return run(weights, plan, checkpoints, identity, compute, zeroStage, collective, Optional.of(scaler));
  }

  private static Run run(TensorSource weights, TrainingPlan plan, Path checkpoints, String identity,
      ComputeType compute, int zeroStage, Collective collective, Optional<LossScaler> scaler) throws IOException {
    NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu());
    ZeroModel model = ZeroModel.load(config, zeroStage, collective, m, plan.recomputeActivations(), weights);
    TokenFile data = TokenFile.open(corpus);
    SampleStream stream = new SampleStream(data, Samplers.official(LC, LT), 5, LC);
    Decoder decoder = new Decoder(config, model, compute);
    CheckpointStore store = new CheckpointStore(checkpoints);
    // by default as the stages make it: the decoder's precision decides the loss scaling
    Trainer t = scaler.isPresent()
        ? new Trainer(m, decoder, model, stream, plan, store, identity, scaler.get())
        : new Trainer(m, decoder, model, stream, plan, store, identity);
    return new Run(m, data, model, t);
  }

  /** A single-rank run resumed from a checkpoint. */
  static Run resume(CheckpointStore.Saved saved, TrainingPlan plan, Path checkpoints, String identity,
      ComputeType compute) throws IOException {
    try (CheckpointStore.Stored stored = CheckpointStore.open(saved)) {
      Run r = run(stored, plan, checkpoints, identity, compute, 0, SingleRank.INSTANCE);
      try {
        r.trainer().resumeFrom(saved, stored);
        return r;
      } catch (IOException | RuntimeException e) {
        r.close();
        throw e;
      }
    }
  }

  static Map<String, float[]> snapshot(ZeroModel model) {
    return model.gatherAll();
  }

  @Test
  void aResumedRunMatchesAnUninterruptedOneBitForBit(@TempDir Path tmp) throws IOException {
    Map<String, float[]> straight;
    try (Run a = run(MODEL, plan(6, 2, 2), tmp.resolve("a"), "run-1")) {
      a.trainer().run(6, r -> { });
      straight = snapshot(a.model());
    }
    Path checkpoints = tmp.resolve("b");
    try (Run b = run(MODEL, plan(6, 2, 2), checkpoints, "run-1")) {
      b.trainer().run(4, r -> { }); // the pod is killed after step 4's checkpoint
    }
    CheckpointStore.Saved saved = new CheckpointStore(checkpoints).latest().orElseThrow();
    assertThat(saved.step()).isEqualTo(4);
    assertThat(saved.samplesConsumed()).isEqualTo(32);
    try (Run resumed = resume(saved, plan(6, 2, 2), checkpoints, "run-1", ComputeType.FP32)) {
      List<StepResult> rest = resumed.trainer().run(6, r -> { });
      assertThat(rest).extracting(StepResult::step).containsExactly(5, 6);
      Map<String, float[]> after = snapshot(resumed.model());
      for (String name : straight.keySet()) {
        assertThat(after.get(name)).as(name).containsExactly(straight.get(name));
      }
    }
    try (var dirs = Files.list(checkpoints)) {
      assertThat(dirs.map(p -> p.getFileName().toString()).sorted().toList()).as("the last 2 checkpoints are kept")
          .containsExactly("step-00000004", "step-00000006");
    }
  }

  @Test
  void poseTrainingLowersTheLossWithPositionsUpToTheTargetAtTheCostOfTheWindow(@TempDir Path tmp) throws IOException {
    try (Run run = run(MODEL, plan(200, 1000, 1), tmp, "run-2")) {
      List<StepResult> results = run.trainer().run(200, r -> { });
      double first = results.subList(0, 10).stream().mapToDouble(StepResult::loss).average().orElseThrow();
      double last = results.subList(190, 200).stream().mapToDouble(StepResult::loss).average().orElseThrow();
      assertThat(first).isGreaterThan(4.0);
      // the task is learnable except at chunk boundaries (the text jumps there too), so the floor is about 0.65
      assertThat(last).as("loss after 200 steps (first 10 averaged %.3f)", first).isLessThan(first / 2);
      assertThat(results).allMatch(r -> r.maxSampleLength() <= LC).allMatch(r -> r.maxPosition() < LT);
      assertThat(results.stream().mapToInt(StepResult::maxPosition).max().orElseThrow())
          .as("positions reach far beyond Lc and near Lt - 1").isGreaterThan(LT - 16);
      assertThat(results).allMatch(r -> Double.isFinite(r.loss()) && Double.isFinite(r.gradNorm()));
    }
  }

  @Test
  void aCheckpointOfAnotherRunIsRefused(@TempDir Path tmp) throws IOException {
    try (Run a = run(MODEL, plan(2, 2, 1), tmp, "seed=5 batch=8")) {
      a.trainer().run(2, r -> { });
    }
    CheckpointStore.Saved saved = new CheckpointStore(tmp).latest().orElseThrow();
    assertThatThrownBy(() -> resume(saved, plan(4, 2, 1), tmp, "seed=6 batch=8", ComputeType.FP32))
        .hasMessageContaining("belongs to another run (seed=5 batch=8)");
  }

  /** bf16 and fp16 (with its loss scale) train as well and resume bit for bit, the scaler's state included. */
  @ParameterizedTest
  @EnumSource(value = ComputeType.class, names = {"BF16", "FP16"})
  void mixedPrecisionLowersTheLossAndResumesExactly(ComputeType compute, @TempDir Path tmp) throws IOException {
    Map<String, float[]> straight;
    List<StepResult> all;
    try (Run a = run(MODEL, plan(40, 20, 1), tmp.resolve("a"), "mp", compute)) {
      all = a.trainer().run(40, r -> { });
      straight = snapshot(a.model());
    }
    double first = all.subList(0, 5).stream().mapToDouble(StepResult::loss).average().orElseThrow();
    double last = all.subList(35, 40).stream().mapToDouble(StepResult::loss).average().orElseThrow();
    assertThat(last).as("%s loss after 40 steps (first 5 averaged %.3f)", compute, first).isLessThan(0.75 * first);
    Path checkpoints = tmp.resolve("b");
    try (Run b = run(MODEL, plan(40, 20, 1), checkpoints, "mp", compute)) {
      b.trainer().run(20, r -> { });
    }
    CheckpointStore.Saved saved = new CheckpointStore(checkpoints).latest().orElseThrow();
    // fp16 gets the dynamic loss scale (nothing overflowed: it stands at its initial value), bf16 none
    assertThat(state(saved).has("lossScale")).isEqualTo(compute == ComputeType.FP16);
    if (compute == ComputeType.FP16) {
      assertThat(state(saved).get("lossScale").asDouble()).isEqualTo(LossScaler.INITIAL_SCALE);
    }
    try (Run resumed = resume(saved, plan(40, 20, 1), checkpoints, "mp", compute)) {
      resumed.trainer().run(40, r -> { });
      Map<String, float[]> after = snapshot(resumed.model());
      for (String name : straight.keySet()) {
        assertThat(after.get(name)).as(name).containsExactly(straight.get(name));
      }
    }
  }

  /** A step leaves nothing behind in the run's manager: each micro-batch and each update frees its tensors. */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void stepsDoNotAccumulateTensors(boolean recompute, @TempDir Path tmp) throws IOException {
    TrainingPlan base = plan(6, 1000, 1);
    TrainingPlan plan = new TrainingPlan(base.steps(), base.globalBatchSize(), base.microBatchSize(),
        base.dataParallelRanks(), base.schedule(), base.beta1(), base.beta2(), base.eps(), base.weightDecay(),
        base.maxGradNorm(), base.checkpointEverySteps(), base.keepCheckpoints(), base.padTokenId(), recompute);
    try (Run run = run(MODEL, plan, tmp, "leak")) {
      run.trainer().run(1, r -> { }); // creates the Adam moments
      int after1 = run.manager().getManagedArrays().size();
      run.trainer().run(5, r -> { });
      assertThat(run.manager().getManagedArrays()).as("tensors held after 5 steps vs after 1").hasSize(after1);
    }
  }

  static com.fasterxml.jackson.databind.JsonNode state(CheckpointStore.Saved saved) throws IOException {
    return new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        saved.directory().resolve(CheckpointStore.STATE_FILE).toFile());
  }

  /**
   * fp16 at a loss scale that overflows: the step is skipped (the weights stay, the norm is not finite), the scale
   * halves until the gradients are finite, and a checkpoint after a skipped first step has its moments and its
   * scale.
   */
  @Test
  void fp16SkipsOverflowingStepsHalvesTheScaleAndCheckpointsBeforeAnyUpdate(@TempDir Path tmp) throws IOException {
    Map<String, float[]> base;
    try (Checkpoint c = Checkpoint.open(MODEL);
        Run run = run(c, plan(16, 1, 20), tmp, "fp16", ComputeType.FP16, 0, SingleRank.INSTANCE,
            new LossScaler(0x1p24, 1000))) {
      base = snapshot(run.model());
      List<StepResult> first = run.trainer().run(1, r -> { });
      assertThat(Double.isFinite(first.get(0).gradNorm())).as("the first step overflows: NaN or infinite").isFalse();
      Map<String, float[]> after = snapshot(run.model());
      for (String name : base.keySet()) {
        assertThat(after.get(name)).as("%s unchanged by a skipped step", name).containsExactly(base.get(name));
      }
      CheckpointStore.Saved one = new CheckpointStore(tmp).saved(1);
      assertThat(state(one).get("lossScale").asDouble()).isEqualTo(0x1p23);
      assertThat(state(one).get("adamStep").asLong()).as("no update yet").isZero();
      try (CheckpointStore.Stored stored = CheckpointStore.open(one)) {
        assertThat(stored.floats("exp_avg/model.norm.weight", 0, 4)).containsOnly(0f);
      }
      List<StepResult> rest = run.trainer().run(16, r -> { });
      assertThat(rest.get(rest.size() - 1).gradNorm()).as("the scale came down until the gradients fit").isFinite();
      double last = state(new CheckpointStore(tmp).saved(16)).get("lossScale").asDouble();
      assertThat(last).isLessThan(0x1p23);
      long skipped = rest.stream().filter(r -> !Double.isFinite(r.gradNorm())).count() + 1;
      assertThat(last).as("halved once per skipped step").isEqualTo(Math.scalb(1.0, 24 - (int) skipped));
    }
  }

  /**
   * The scaler's state is part of a checkpoint: with a scale that grows every 3 good steps and halves on overflow, a
   * run resumed at step 10 goes on bit for bit like the uninterrupted one.
   */
  @Test
  void fp16ResumesWithTheScaleAndGoodStepsItStoppedAt(@TempDir Path tmp) throws IOException {
    Map<String, float[]> straight;
    double straightScale;
    try (Checkpoint c = Checkpoint.open(MODEL);
        Run a = run(c, plan(24, 10, 5), tmp.resolve("a"), "fp16", ComputeType.FP16, 0, SingleRank.INSTANCE,
            new LossScaler(0x1p16, 3))) {
      a.trainer().run(24, r -> { });
      straight = snapshot(a.model());
      straightScale = state(new CheckpointStore(tmp.resolve("a")).saved(20)).get("lossScale").asDouble();
    }
    Path checkpoints = tmp.resolve("b");
    try (Checkpoint c = Checkpoint.open(MODEL);
        Run b = run(c, plan(24, 10, 5), checkpoints, "fp16", ComputeType.FP16, 0, SingleRank.INSTANCE,
            new LossScaler(0x1p16, 3))) {
      b.trainer().run(10, r -> { });
    }
    CheckpointStore.Saved saved = new CheckpointStore(checkpoints).saved(10);
    assertThat(state(saved).get("lossScale").asDouble()).as("the scale moved by step 10").isNotEqualTo(0x1p16);
    assertThat(state(saved).get("lossScaleGoodSteps").asInt()).isBetween(0, 2);
    try (CheckpointStore.Stored stored = CheckpointStore.open(saved);
        Run resumed = run(stored, plan(24, 10, 5), checkpoints, "fp16", ComputeType.FP16, 0, SingleRank.INSTANCE,
            new LossScaler(0x1p16, 3))) {
      resumed.trainer().resumeFrom(saved, stored);
      resumed.trainer().run(24, r -> { });
      assertThat(state(new CheckpointStore(checkpoints).saved(20)).get("lossScale").asDouble())
          .isEqualTo(straightScale);
      Map<String, float[]> after = snapshot(resumed.model());
      for (String name : straight.keySet()) {
        assertThat(after.get(name)).as(name).containsExactly(straight.get(name));
      }
    }
  }

  /** A step reports its wall time in seconds, and each rank reads its own contiguous share of the global batch. */
  @Test
  void aStepReportsItsSecondsAndTokens(@TempDir Path tmp) throws IOException {
    try (Run run = run(MODEL, plan(2, 1000, 1), tmp, "time")) {
      long start = System.nanoTime();
      List<StepResult> steps = run.trainer().run(2, r -> { });
      double wall = (System.nanoTime() - start) / 1e9;
      for (StepResult r : steps) {
        assertThat(r.seconds()).isPositive().isLessThanOrEqualTo(wall);
      }
      assertThat(steps.get(0).seconds() + steps.get(1).seconds()).isLessThanOrEqualTo(wall);
    }
  }

  /** A checkpoint on request (a stop between checkpoints) writes the step once, and nothing when it has one. */
  @Test
  void aCheckpointOnRequestIsWrittenOncePerStep(@TempDir Path tmp) throws IOException {
    try (Run run = run(MODEL, plan(6, 2, 5), tmp, "request")) {
      run.trainer().run(3, r -> { });
      assertThat(run.trainer().lastCheckpointStep()).isEqualTo(2);
      run.trainer().checkpoint();
      assertThat(run.trainer().lastCheckpointStep()).isEqualTo(3);
      CheckpointStore store = new CheckpointStore(tmp);
      assertThat(store.latest().orElseThrow().step()).isEqualTo(3);
      java.nio.file.attribute.FileTime written = Files.getLastModifiedTime(store.saved(3).directory());
      Files.setLastModifiedTime(store.saved(3).directory(), java.nio.file.attribute.FileTime.fromMillis(0));
      run.trainer().checkpoint();
      assertThat(Files.getLastModifiedTime(store.saved(3).directory()).toMillis()).as("not written again").isZero();
      assertThat(written.toMillis()).isPositive();
      run.trainer().run(4, r -> { });
      assertThat(run.trainer().lastCheckpointStep()).isEqualTo(4);
    }
  }
}
