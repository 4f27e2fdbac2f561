package io.pose.operator.observe;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StageStatus;
import io.pose.operator.Fixtures;
import io.pose.operator.build.StageJobs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JobObserverTest {

  static final String START = "2026-11-25T20:00:00Z";
  static final String END = "2026-11-25T21:30:00Z";

  /** The real Train Job of the mistral example (created running), with the given status. */
  static Job job(JobStatus status) {
    Job job = StageJobs.build(Fixtures.resolved("mistral-32k.yaml"), Stage.TRAIN);
    job.setStatus(status);
    return job;
  }

  /** The Train Job as created for Kueue or spec.suspend: suspended. */
  static Job suspendedJob(boolean bySpec, JobStatus status) {
    ContextExtension cx = Fixtures.example(bySpec ? "mistral-32k.yaml" : "multi-node-kueue.yaml");
    cx.getSpec().setSuspend(bySpec ? Boolean.TRUE : null);
    Job job = StageJobs.build(Fixtures.resolve(cx), Stage.TRAIN);
    assertThat(job.getSpec().getSuspend()).isTrue();
    job.setStatus(status);
    return job;
  }

  static JobCondition condition(String type, String status, String reason, String message) {
    return new JobConditionBuilder().withType(type).withStatus(status).withReason(reason).withMessage(message).build();
  }

  @Test
  void completeConditionIsSucceeded() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withStartTime(START).withCompletionTime(END)
        .withSucceeded(1).withConditions(condition("SuccessCriteriaMet", "True", "CompletionsReached", null),
            condition("Complete", "True", "CompletionsReached", null)).build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Succeeded);
    assertThat(s.getJobName()).isEqualTo("mistral-7b-32k-train");
    assertThat(s.getStartTime()).isEqualTo(START);
    assertThat(s.getCompletionTime()).isEqualTo(END);
    assertThat(s.getMessage()).isNull();
    assertThat(s.getFailedPods()).isNull();
  }

  @Test
  void completeWinsOverSuspendAndActive() {
    StageStatus s = JobObserver.observe(suspendedJob(true, new JobStatusBuilder().withActive(1).withReady(1)
        .withConditions(condition("Complete", "True", null, null)).build()), true);
    assertThat(s.getState()).isEqualTo(StageState.Succeeded);
  }

  @Test
  void failedConditionIsFailedWithItsMessage() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withStartTime(START).withFailed(4)
        .withConditions(condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        .build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Failed);
    assertThat(s.getMessage()).isEqualTo("Job has reached the specified backoff limit");
    assertThat(s.getFailedPods()).isEqualTo(4);
    assertThat(s.getStartTime()).isEqualTo(START);
    assertThat(s.getCompletionTime()).isNull();
  }

  @Test
  void failureTargetIsFailedBeforeThePodsAreGone() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(1).withReady(1).withFailed(1)
        .withConditions(condition("FailureTarget", "True", "PodFailurePolicy",
            "Container trainer for pod test/mistral-7b-32k-train-0-abcde failed with exit code 3 matching FailJob rule at index 0"))
        .build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Failed);
    assertThat(s.getMessage()).startsWith("Container trainer for pod").contains("exit code 3");
  }

  @Test
  void failedWithoutMessageUsesTheReason() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withFailed(1)
        .withConditions(condition("Failed", "True", "DeadlineExceeded", " ")).build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Failed);
    assertThat(s.getMessage()).isEqualTo("DeadlineExceeded");
  }

  @Test
  void conditionsThatAreNotTrueDoNotCount() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(2).withReady(2)
        .withConditions(condition("Failed", "False", "x", "not failed"), condition("Complete", "False", null, null))
        .build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Running);
    assertThat(s.getMessage()).isNull();
  }

  @Test
  void suspendedBySpecIsSuspended() {
    StageStatus s = JobObserver.observe(suspendedJob(true, null), true);
    assertThat(s.getState()).isEqualTo(StageState.Suspended);
    assertThat(s.getJobName()).isEqualTo("mistral-7b-32k-train");
  }

  @Test
  void suspendedForKueueIsQueued() {
    StageStatus s = JobObserver.observe(suspendedJob(false, new JobStatusBuilder()
        .withConditions(condition("Suspended", "True", "JobSuspended", "Job suspended")).build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Queued);
    assertThat(s.getJobName()).isEqualTo("mistral-7b-64k-train");
  }

  @Test
  void suspendedWinsOverActivePods() {
    // pods still terminating after suspension
    StageStatus s = JobObserver.observe(suspendedJob(true, new JobStatusBuilder().withActive(1).withReady(1).build()),
        true);
    assertThat(s.getState()).isEqualTo(StageState.Suspended);
  }

  @Test
  void activeAndReadyIsRunning() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withStartTime(START).withActive(1).withReady(1)
        .build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Running);
    assertThat(s.getStartTime()).isEqualTo(START);
    assertThat(s.getCompletionTime()).isNull();
  }

  @Test
  void activeButNotReadyIsQueued() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withStartTime(START).withActive(2).withReady(0)
        .build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Queued);
  }

  @Test
  void activeWithoutReadyCountIsRunning() {
    // clusters that do not report ready pods: active pods count as running
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(1).build()), false);
    assertThat(s.getState()).isEqualTo(StageState.Running);
  }

  @Test
  void noStatusIsQueued() {
    StageStatus s = JobObserver.observe(job(null), false);
    assertThat(s.getState()).isEqualTo(StageState.Queued);
    assertThat(s.getJobName()).isEqualTo("mistral-7b-32k-train");
    assertThat(s.getStartTime()).isNull();
    assertThat(s.getCompletionTime()).isNull();
    assertThat(s.getFailedPods()).isNull();
    assertThat(s.getMessage()).isNull();
  }

  @Test
  void emptyStatusOrNoActivePodsIsQueued() {
    assertThat(JobObserver.observe(job(new JobStatus()), false).getState()).isEqualTo(StageState.Queued);
    assertThat(JobObserver.observe(job(new JobStatusBuilder().withActive(0).withFailed(1).build()), false).getState())
        .isEqualTo(StageState.Queued);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 10})
  void failedPodsCopied(int failed) {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(1).withReady(1).withFailed(failed)
        .build()), false);
    assertThat(s.getFailedPods()).isEqualTo(failed);
    assertThat(s.getState()).isEqualTo(StageState.Running);
  }

  @Test
  void zeroFailedPodsIsNull() {
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(1).withReady(1).withFailed(0).build()),
        false);
    assertThat(s.getFailedPods()).isNull();
  }

  @Test
  void suspendedByUserFlagDoesNotChangeARunningJob() {
    // spec.suspend was just set: the Job is not suspended yet
    StageStatus s = JobObserver.observe(job(new JobStatusBuilder().withActive(1).withReady(1).build()), true);
    assertThat(s.getState()).isEqualTo(StageState.Running);
  }
}
