package io.pose.trainer.progress;

import io.pose.api.progress.TrainReport;
import io.pose.trainer.train.StepResult;
import java.time.Instant;

/** The progress protocol's train.json document for a step. */
final class TrainReports {
  private TrainReports() {}

  static TrainReport of(StepResult r, int totalSteps, Integer lastCheckpointStep, Throughput throughput) {
    TrainReport t = new TrainReport();
    t.setStep(r.step());
    t.setTotalSteps(totalSteps);
    t.setLoss(r.loss());
    t.setLearningRate(r.learningRate());
    t.setTokensPerSecond(throughput.tokensPerSecond());
    t.setEtaSeconds(throughput.etaSeconds(totalSteps - r.step()));
    t.setLastCheckpointStep(lastCheckpointStep);
    t.setUpdatedAt(Instant.now().toString());
    return t;
  }

  /** The final report: the model is written (the last step's report, or a new one when this process ran no step). */
  static TrainReport completed(TrainReport last, String modelUri, int step) {
    TrainReport t = last != null ? last : new TrainReport();
    t.setStep(step);
    t.setTotalSteps(step);
    t.setLastCheckpointStep(step);
    t.setEtaSeconds(0L);
    t.setModelUri(modelUri);
    t.setUpdatedAt(Instant.now().toString());
    return t;
  }
}
