package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.sampling.Batch;
import io.pose.core.sampling.Sample;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.FusedOps;
import io.pose.trainer.model.Decoder;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The training loop of one data-parallel rank: for each step, this rank's share of the step's samples in
 * micro-batches (gradients accumulated, each micro-batch's loss divided by the micro-batches of the whole step, as
 * the Hugging Face Trainer does), gradients summed over the ranks ({@link ZeroModel}: all-reduced, or
 * reduce-scattered into shards), global-norm clipping over every rank's gradients, an AdamW step at the scheduled
 * rate on this rank's weights, and a checkpoint every N steps that every rank writes its part of. Sample s of the
 * run is always the same sample (see {@link SampleStream}) and step k reads samples [k x batch, (k + 1) x batch)
 * whatever the number of ranks, so a resumed run continues exactly where the checkpoint left it, on any world size.
 */
public final class Trainer {

  private final Decoder decoder;
  private final ZeroModel model;
  private final SampleStream data;
  private final TrainingPlan plan;
  private final CheckpointStore checkpoints;
  private final String runIdentity;
  private final AdamW adam;
  private final NDManager manager;
  /** fp16 only: the dynamic loss scale. */
  private final LossScaler scaler;
  private final Collective collective;
  private int step;
  private long samplesConsumed;
  private Integer lastCheckpointStep;

  /**
   * @param manager where the micro-batches' tensors are made (the rank's device)
   * @param decoder the model, reading its parameters from {@code model}
   * @param model this rank's parameters (and the ranks' collective)
   * @param runIdentity what identifies the run for resuming (seed, batch sizes, sampler): a checkpoint of another
   *     run is refused
   */
  public Trainer(NDManager manager, Decoder decoder, ZeroModel model, SampleStream data, TrainingPlan plan,
      CheckpointStore checkpoints, String runIdentity) {
    this(manager, decoder, model, data, plan, checkpoints, runIdentity,
        decoder.compute() == ComputeType.FP16 ? new LossScaler() : null);
  }

  /** @param scaler fp16's dynamic loss scale (null for the other precisions) */
  Trainer(NDManager manager, Decoder decoder, ZeroModel model, SampleStream data, TrainingPlan plan,
      CheckpointStore checkpoints, String runIdentity, LossScaler scaler) {
    this.collective = model.collective();
    if (collective.worldSize() != plan.dataParallelRanks()) {
      throw new IllegalArgumentException("the plan has " + plan.dataParallelRanks() + " data-parallel ranks, the "
          + "collective " + collective.worldSize());
    }
    this.manager = manager;
    this.decoder = decoder;
    this.model = model;
    this.data = data;
    this.plan = plan;
    this.checkpoints = checkpoints;
    this.runIdentity = runIdentity;
    this.adam = new AdamW(plan.beta1(), plan.beta2(), plan.eps(), plan.weightDecay());
    // the moments exist from the start: a checkpoint before the first real update (fp16 skips overflowing steps) has them
    adam.initialize(model.ownedWeights());
    this.scaler = scaler;
  }

  /**
   * Restores the optimizer, loss-scale and loader state of the checkpoint whose weights the model was loaded from
   * (the caller loads them from the same {@code tensors}); any world size and ZeRO stage.
   */
  public void resumeFrom(CheckpointStore.Saved saved, CheckpointStore.Stored tensors) throws IOException {
    if (!saved.runIdentity().equals(runIdentity)) {
      throw new IllegalStateException("checkpoint " + saved.directory() + " belongs to another run (" + saved.runIdentity()
          + "); this run is " + runIdentity + ": use a new workspace or the same settings");
    }
    CheckpointStore.restore(saved, tensors, model, adam, scaler, manager);
    step = saved.step();
    samplesConsumed = saved.samplesConsumed();
    lastCheckpointStep = saved.step();
  }

  /** The step of the newest checkpoint written or resumed from, or null. */
  public Integer lastCheckpointStep() {
    return lastCheckpointStep;
  }

  public int step() {
    return step;
  }

  /**
   * Runs steps until the given step (or the plan's last); reports each step once its checkpoint, if any, is written.
   * Every rank runs it; every rank gets the same results.
   */
  public List<StepResult> run(int untilStep, Consumer<StepResult> listener) throws IOException {
    List<StepResult> results = new ArrayList<>();
    int last = Math.min(untilStep, plan.steps());
    while (step < last) {
      StepResult r = trainStep();
      results.add(r);
      if (step % plan.checkpointEverySteps() == 0 || step == plan.steps()) {
        checkpoints.save(step, samplesConsumed, runIdentity, model, adam, scaler, plan.keepCheckpoints());
        lastCheckpointStep = step;
      }
      listener.accept(r);
    }
    return results;
  }

  /** Writes a checkpoint of the step the run stands at, unless it has one (every rank calls it). */
  public void checkpoint() throws IOException {
    if (lastCheckpointStep == null || lastCheckpointStep != step) {
      checkpoints.save(step, samplesConsumed, runIdentity, model, adam, scaler, plan.keepCheckpoints());
      lastCheckpointStep = step;
    }
  }

  private StepResult trainStep() throws IOException {
    long start = System.nanoTime();
    int accumulation = plan.accumulationSteps();
    double lossSum = 0;
    long tokens = 0;
    int maxPosition = 0;
    int maxLength = 0;
    double lossScale = scaler == null ? 1.0 : scaler.scale();
    int ranks = collective.worldSize();
    // the step reads samples [samplesConsumed, samplesConsumed + global batch); each rank a contiguous share
    long next = samplesConsumed + (long) collective.rank() * accumulation * plan.microBatchSize();
    for (int micro = 0; micro < accumulation; micro++) {
      List<Sample> samples = new ArrayList<>();
      for (int i = 0; i < plan.microBatchSize(); i++) {
        Sample s = data.sample(next++);
        samples.add(s);
        tokens += s.length();
        maxPosition = Math.max(maxPosition, s.maxPosition());
        maxLength = Math.max(maxLength, s.length());
      }
      Batch batch = Batch.collate(samples, plan.padTokenId());
      try (NDManager micromanager = manager.newSubManager()) {
        Shape shape = new Shape(batch.size(), batch.length());
        NDArray ids = micromanager.create(toLongs(batch.inputIds()), shape);
        NDArray labels = micromanager.create(toLongs(batch.labels()), shape);
        int[][] positions = new int[batch.size()][batch.length()];
        for (int b = 0; b < batch.size(); b++) {
          System.arraycopy(batch.positionIds(), b * batch.length(), positions[b], 0, batch.length());
        }
        lossSum += decoder.lossAndGradients(ids, positions, labels, lossScale / ((double) accumulation * ranks),
            plan.recomputeActivations());
      }
    }
    samplesConsumed += plan.globalBatchSize();
    // each rank's gradients are its share of the mean over the global batch: their sum is the whole
    model.finishGradients();
    if (ranks > 1) {
      double[] sums = collective.allReduce(new double[] {lossSum, tokens}, Collective.Op.SUM);
      double[] maxima = collective.allReduce(new double[] {maxPosition, maxLength}, Collective.Op.MAX);
      lossSum = sums[0] / ranks;
      tokens = (long) sums[1];
      maxPosition = (int) maxima[0];
      maxLength = (int) maxima[1];
    }
    Map<String, NDArray> grads = model.ownedGradients();
    double norm;
    try {
      List<NDArray> all = new ArrayList<>(grads.values());
      if (lossScale != 1.0) {
        FusedOps.scale(all, 1.0 / lossScale); // exact: the scale is a power of two
      }
      norm = model.gradientNorm(grads);
      GradientClipping.scaleToNorm(all, norm, plan.maxGradNorm()); // as clip_grad_norm_, over every rank's norm
      double lr = plan.schedule().at(step);
      boolean finite = Double.isFinite(norm); // the same on every rank: the norm is
      if (scaler != null) {
        scaler.update(finite); // an overflow skips the step and halves the scale
      } else if (!finite) {
        throw new TrainingDivergedException(step + 1, lossSum / accumulation, norm);
      }
      if (finite) {
        adam.step(model.ownedWeights(), grads, lr);
        model.afterUpdate();
      }
      step++;
      return new StepResult(step, lossSum / accumulation, norm, lr, tokens, (System.nanoTime() - start) / 1e9,
          maxPosition, maxLength);
    } finally {
      grads.values().forEach(NDArray::close);
      model.endStep();
    }
  }

  private static long[] toLongs(int[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }
}
