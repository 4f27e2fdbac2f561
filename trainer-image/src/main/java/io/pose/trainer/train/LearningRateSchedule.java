package io.pose.trainer.train;

import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;

/**
 * The schedules of transformers' get_{constant,linear,cosine}_schedule_with_warmup (what the paper's HF Trainer
 * runs used): linear warmup from 0 (step / warmup), then constant, linear decay to 0 at the last step, or cosine
 * decay to 0.
 *
 * @param peak the learning rate after warmup
 * @param warmupSteps steps of linear warmup
 * @param totalSteps steps of the run
 * @param kind the shape after warmup
 */
public record LearningRateSchedule(double peak, int warmupSteps, int totalSteps, LrSchedule kind) {

  /** The rate for a step counted from 0. */
  public double at(int step) {
    if (step < warmupSteps) {
      return peak * step / Math.max(1, warmupSteps);
    }
    double span = Math.max(1, totalSteps - warmupSteps);
    return switch (kind) {
      case CONSTANT -> peak;
      case LINEAR -> peak * Math.max(0, (totalSteps - step) / span);
      case COSINE -> peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (step - warmupSteps) / span)));
    };
  }
}
