package io.pose.operator.status;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.build.StageJobs;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.ProgressSnapshot;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Stage Jobs made by the real builder, with the statuses the Job controller would give them. */
final class StatusFixtures {
  private StatusFixtures() {}

  static final String NOW = "2026-11-25T20:00:00Z";
  static final String LATER = "2026-11-25T21:30:00Z";
  static final String LATEST = "2026-11-26T08:15:00Z";
  static final String BACKOFF = "Job has reached the specified backoff limit";

  /** As created: no status yet (and suspended for Kueue or spec.suspend). */
  static Job created(Resolved r, Stage stage) {
    return StageJobs.build(r, stage);
  }

  static Job running(Resolved r, Stage stage) {
    Job job = StageJobs.build(r, stage);
    job.getSpec().setSuspend(false);
    job.setStatus(new JobStatusBuilder().withStartTime(NOW).withActive(1).withReady(1).build());
    return job;
  }

  static Job running(Resolved r, Stage stage, int failedPods) {
    Job job = running(r, stage);
    job.getStatus().setFailed(failedPods);
    return job;
  }

  static Job suspended(Resolved r, Stage stage) {
    Job job = StageJobs.build(r, stage);
    job.getSpec().setSuspend(true);
    job.setStatus(new JobStatusBuilder().withStartTime(NOW).withConditions(new JobConditionBuilder()
        .withType("Suspended").withStatus("True").withReason("JobSuspended").build()).build());
    return job;
  }

  static Job succeeded(Resolved r, Stage stage) {
    Job job = StageJobs.build(r, stage);
    job.getSpec().setSuspend(false);
    job.setStatus(new JobStatusBuilder().withStartTime(NOW).withCompletionTime(LATER).withSucceeded(1)
        .withConditions(
            new JobConditionBuilder().withType("SuccessCriteriaMet").withStatus("True").build(),
            new JobConditionBuilder().withType("Complete").withStatus("True").build())
        .build());
    return job;
  }

  static Job failed(Resolved r, Stage stage, int failedPods) {
    Job job = StageJobs.build(r, stage);
    job.getSpec().setSuspend(false);
    job.setStatus(new JobStatusBuilder().withStartTime(NOW).withFailed(failedPods)
        .withConditions(new JobConditionBuilder().withType("Failed").withStatus("True").withReason("BackoffLimitExceeded")
            .withMessage(BACKOFF).build())
        .build());
    return job;
  }

  /** The Jobs by the stage they were built for (their pose.io/stage label). */
  static Map<Stage, Job> jobs(Job... jobs) {
    Map<Stage, Job> out = new EnumMap<>(Stage.class);
    for (Job job : jobs) {
      String command = job.getMetadata().getLabels().get("pose.io/stage");
      Stage stage = java.util.Arrays.stream(Stage.values()).filter(s -> s.command().equals(command)).findFirst()
          .orElseThrow();
      out.put(stage, job);
    }
    return out;
  }

  static ContextExtensionStatus none() {
    return new ContextExtensionStatus();
  }

  static ProgressSnapshot progress(FetchReport fetch, TrainReport train, EvaluationResults evaluation,
      PublishReport publish) {
    return new ProgressSnapshot(Optional.ofNullable(fetch), Optional.ofNullable(train), Optional.ofNullable(evaluation),
        Optional.ofNullable(publish), List.of());
  }

  static TrainReport trainReport(int step) {
    TrainReport t = new TrainReport();
    t.setStep(step);
    t.setTotalSteps(1000);
    t.setLoss(1.234);
    t.setLearningRate(2.0e-5);
    t.setTokensPerSecond(5123.6);
    t.setEtaSeconds(3725L);
    t.setLastCheckpointStep(400);
    t.setUpdatedAt(NOW);
    return t;
  }

  static FetchReport fetchReport() {
    FetchReport f = new FetchReport();
    f.setOriginalContextLength(8192);
    f.setModelRevision("26bca36bde8333b5d7f72e9ed20ccda6a618af24");
    f.setArchitecture("MistralForCausalLM");
    f.setModelUri("pvc://mistral-7b-32k-workspace/base");
    f.setUpdatedAt(NOW);
    return f;
  }

  static EvaluationResults evaluation(double atTarget) {
    EvaluationResults e = new EvaluationResults();
    e.setSchemaVersion(1);
    e.setPasskey(new java.util.ArrayList<>(List.of(
        new EvaluationResults.PasskeyResult(4096, 50, 1.0, 1.0),
        new EvaluationResults.PasskeyResult(8192, 50, 0.98, 0.96),
        new EvaluationResults.PasskeyResult(32768, 50, atTarget, 0.0))));
    e.setCompleted(true);
    e.setUpdatedAt(LATER);
    return e;
  }

  static PublishReport publishReport(String uri) {
    PublishReport p = new PublishReport();
    p.setPublishedUri(uri);
    p.setRevision("c0ffee");
    p.setUpdatedAt(LATER);
    return p;
  }
}
