package io.pose.trainer.progress;

import io.pose.trainer.train.StepResult;

/** Receives each training step as it completes. */
public interface ProgressListener extends AutoCloseable {

  void step(StepResult result, int totalSteps, Integer lastCheckpointStep);

  @Override
  default void close() {}
}
