package io.pose.trainer.train;

/**
 * The hyper-parameters of a run, resolved from the spec.
 *
 * @param steps optimizer steps
 * @param globalBatchSize samples per step, over all data-parallel ranks
 * @param microBatchSize samples per forward pass
 * @param dataParallelRanks ranks that share each step
 * @param schedule the learning rate per step
 * @param beta1 AdamW beta1
 * @param beta2 AdamW beta2
 * @param eps AdamW epsilon
 * @param weightDecay decoupled weight decay
 * @param maxGradNorm global-norm clipping threshold (0: none)
 * @param checkpointEverySteps checkpoint interval
 * @param keepCheckpoints checkpoints kept
 * @param padTokenId the id that pads short samples (their labels are ignored)
 * @param recomputeActivations keep only each layer's input in the forward and recompute the layer in the backward
 */
public record TrainingPlan(int steps, int globalBatchSize, int microBatchSize, int dataParallelRanks,
    LearningRateSchedule schedule, double beta1, double beta2, double eps, double weightDecay, double maxGradNorm,
    int checkpointEverySteps, int keepCheckpoints, int padTokenId, boolean recomputeActivations) {

  public TrainingPlan {
    if (globalBatchSize % (microBatchSize * dataParallelRanks) != 0) {
      throw new IllegalArgumentException("global batch " + globalBatchSize + " is not a multiple of micro batch "
          + microBatchSize + " x " + dataParallelRanks + " ranks");
    }
  }

  /** Micro-batches each rank accumulates per step. */
  public int accumulationSteps() {
    return globalBatchSize / (microBatchSize * dataParallelRanks);
  }
}
