package io.pose.trainer.progress;

import io.pose.trainer.train.StepResult;

/** Receives each training step as it completes, and the extended model once it is written. */
public interface ProgressListener extends AutoCloseable {

  /**
   * @param result the step just done
   * @param totalSteps the run's last step
   * @param lastCheckpointStep the newest checkpoint (this step's when it was just written), or null
   */
  void step(StepResult result, int totalSteps, Integer lastCheckpointStep);

  /**
   * Training is about to start after step {@code fromStep}: 0 for a fresh start, else the checkpoint it resumes
   * from. Steps after it that an interrupted run reported will be reported again.
   */
  default void starting(int fromStep) {}

  /**
   * The extended model is complete.
   *
   * @param modelUri where it is ({@code pvc://claim/extended-model} in a cluster)
   * @param step the step it was trained to (the run's last)
   */
  default void modelWritten(String modelUri, int step) {}

  @Override
  default void close() {}
}
