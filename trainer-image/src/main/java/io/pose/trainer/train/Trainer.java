package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.sampling.Batch;
import io.pose.core.sampling.Sample;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.kernels.Autograd;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.Ops;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The training loop of one rank: for each step, the step's samples in micro-batches (gradients accumulated, each
 * micro-batch's loss divided by the number of micro-batches, as the Hugging Face Trainer does), global-norm
 * clipping, an AdamW step at the scheduled rate, and a checkpoint every N steps. Sample s of the run is always the
 * same sample (see {@link SampleStream}), so a resumed run continues exactly where the checkpoint left it.
 */
public final class Trainer {

  private final Decoder decoder;
  private final DecoderWeights weights;
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
   * @param runIdentity what identifies the run for resuming (seed, batch sizes, sampler): a checkpoint of another
   *     run is refused
   */
  public Trainer(NDManager manager, Decoder decoder, DecoderWeights weights, SampleStream data, TrainingPlan plan,
      CheckpointStore checkpoints, String runIdentity) {
    this(manager, decoder, weights, data, plan, checkpoints, runIdentity, SingleRank.INSTANCE);
  }

  /**
   * One data-parallel rank of a run: every rank holds the whole model, trains on its share of each step's samples,
   * and the gradients are summed over the ranks before clipping and the update, which therefore are the same on
   * every rank. Rank 0 writes the checkpoints.
   *
   * @param collective the ranks (plan.dataParallelRanks() of them)
   */
  public Trainer(NDManager manager, Decoder decoder, DecoderWeights weights, SampleStream data, TrainingPlan plan,
      CheckpointStore checkpoints, String runIdentity, Collective collective) {
    if (collective.worldSize() != plan.dataParallelRanks()) {
      throw new IllegalArgumentException("the plan has " + plan.dataParallelRanks() + " data-parallel ranks, the "
          + "collective " + collective.worldSize());
    }
    this.collective = collective;
    this.manager = manager;
    this.decoder = decoder;
    this.weights = weights;
    this.data = data;
    this.plan = plan;
    this.checkpoints = checkpoints;
    this.runIdentity = runIdentity;
    this.adam = new AdamW(plan.beta1(), plan.beta2(), plan.eps(), plan.weightDecay());
    this.scaler = decoder.compute() == ComputeType.FP16 ? new LossScaler() : null;
    weights.all().values().forEach(w -> w.setRequiresGradient(true));
  }

  /**
   * Restores the optimizer and loader state of a checkpoint whose weights the decoder was loaded from (the caller
   * loads them from {@code saved.directory()}, a model directory like any other).
   */
  public void resumeFrom(CheckpointStore.Saved saved) throws IOException {
    if (!saved.runIdentity().equals(runIdentity)) {
      throw new IllegalStateException("checkpoint " + saved.directory() + " belongs to another run (" + saved.runIdentity()
          + "); this run is " + runIdentity + ": use a new workspace or the same settings");
    }
    checkpoints.restoreOptimizer(saved, adam, manager);
    if (scaler != null) {
      checkpoints.restoreScaler(saved, scaler);
    }
    step = saved.step();
    samplesConsumed = saved.samplesConsumed();
    lastCheckpointStep = saved.step();
  }

  /** The step of the newest checkpoint written or resumed from, or null. */
  public Integer lastCheckpointStep() {
    return lastCheckpointStep;
  }

  /** The weights being trained, by Hugging Face name. */
  public DecoderWeights weights() {
    return weights;
  }

  public int step() {
    return step;
  }

  /** Runs steps until the given step (or the plan's last); reports each step once its checkpoint, if any, is written. */
  public List<StepResult> run(int untilStep, Consumer<StepResult> listener) throws IOException {
    List<StepResult> results = new ArrayList<>();
    int last = Math.min(untilStep, plan.steps());
    while (step < last) {
      StepResult r = trainStep();
      results.add(r);
      if (step % plan.checkpointEverySteps() == 0 || step == plan.steps()) {
        if (collective.rank() == 0) {
          checkpoints.save(step, samplesConsumed, runIdentity, weights.all(), adam, scaler, plan.keepCheckpoints());
        }
        collective.barrier(); // a checkpoint exists for every rank once any rank reports it
        lastCheckpointStep = step;
      }
      listener.accept(r);
    }
    return results;
  }

  private StepResult trainStep() throws IOException {
    long start = System.nanoTime();
    weights.all().values().forEach(Autograd::zeroGrad);
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
    if (ranks > 1) {
      // each rank's gradients are its share of the mean over the global batch: their sum is the whole
      for (NDArray w : weights.all().values()) {
        if (w.hasGradient()) {
          try (NDArray g = w.getGradient()) {
            collective.allReduceSum(g);
          }
        }
      }
      double[] sums = collective.allReduce(new double[] {lossSum, tokens}, Collective.Op.SUM);
      double[] maxima = collective.allReduce(new double[] {maxPosition, maxLength}, Collective.Op.MAX);
      lossSum = sums[0] / ranks;
      tokens = (long) sums[1];
      maxPosition = (int) maxima[0];
      maxLength = (int) maxima[1];
    }
    if (lossScale != 1.0) {
      float inverse = (float) (1.0 / lossScale); // exact: the scale is a power of two
      for (NDArray w : weights.all().values()) {
        if (w.hasGradient()) {
          try (NDArray g = w.getGradient()) {
            g.muli(inverse);
          }
        }
      }
    }
    double norm = GradientClipping.clip(weights.all().values(), plan.maxGradNorm());
    double lr = plan.schedule().at(step);
    boolean finite = Double.isFinite(norm);
    if (scaler != null) {
      scaler.update(finite); // an overflow skips the step and halves the scale
    } else if (!finite) {
      throw new TrainingDivergedException(step + 1, lossSum / accumulation, norm);
    }
    if (finite) {
      adam.step(weights.all(), lr);
    }
    step++;
    return new StepResult(step, lossSum / accumulation, norm, lr, tokens, (System.nanoTime() - start) / 1e9, maxPosition,
        maxLength);
  }

  private static long[] toLongs(int[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }
}
