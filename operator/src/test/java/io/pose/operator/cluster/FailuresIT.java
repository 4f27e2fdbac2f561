package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Failures as a cluster produces them, with the real Job controller applying the stage Jobs' podFailurePolicy
 * and backoffLimit: every trainer exit code, an eviction, suspend and resume, and a Secret created late.
 */
class FailuresIT extends ClusterTestBase {

  /**
   * Exit codes 2 to 5 fail the Job at once (the podFailurePolicy's FailJob rule) and the resource with the exit
   * code's name and the pod's termination message; exit code 1 is retried by the Job controller with a new pod.
   */
  @Test
  void everyTrainerExitCodeEndsAsTheContractSays() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    List<ExitCode> permanent = List.of(ExitCode.INVALID_CONFIGURATION, ExitCode.MISSING_INPUT,
        ExitCode.CREDENTIALS_REJECTED, ExitCode.QUALITY_GATE_FAILED);
    for (ExitCode code : permanent) {
      apply(example("mistral-32k.yaml", "exit-" + code.code()));
    }
    apply(example("mistral-32k.yaml", "exit-1"));
    for (ExitCode code : permanent) {
      String name = "exit-" + code.code();
      awaitJob(name, Stage.FETCH);
      kubelet.run(jobName(name, Stage.FETCH));
      kubelet.fail(jobName(name, Stage.FETCH), code.code(), "cannot go on: " + code.reason() + "\nsee the log");
    }
    for (ExitCode code : permanent) {
      String name = "exit-" + code.code();
      ContextExtension cx = awaitPhase(name, Phase.Failed);
      assertThat(condition(cx, "Failed", "True", "FetchFailed")).isTrue();
      assertThat(cx.getStatus().condition("Failed").orElseThrow().getMessage()).isEqualTo("Fetch failed: exit code "
          + code.code() + " (" + code.reason() + "): cannot go on: " + code.reason() + " | see the log");
      Job job = job(name, Stage.FETCH);
      assertThat(job.getStatus().getConditions()).as("the Job controller applied the podFailurePolicy")
          .anyMatch(c -> "Failed".equals(c.getType()) && "PodFailurePolicy".equals(c.getReason()));
      assertThat(kubelet.pods(jobName(name, Stage.FETCH))).as("no retry for exit code %d", code.code()).hasSize(1);
      assertThat(job(name, Stage.TRAIN)).isNull();
    }

    // exit code 1: the Job controller starts a new pod (after its back-off), the resource keeps fetching
    awaitJob("exit-1", Stage.FETCH);
    kubelet.run(jobName("exit-1", Stage.FETCH));
    kubelet.fail(jobName("exit-1", Stage.FETCH), 1, "connection reset by peer");
    Pod second = kubelet.awaitPod(jobName("exit-1", Stage.FETCH));
    assertThat(kubelet.pods(jobName("exit-1", Stage.FETCH))).hasSize(2);
    assertThat(get("exit-1").getStatus().getPhase()).isEqualTo(Phase.Fetching);
    kubelet.run(jobName("exit-1", Stage.FETCH));
    report("exit-1", Stage.FETCH, fetched(8192));
    kubelet.succeed(jobName("exit-1", Stage.FETCH));
    awaitJob("exit-1", Stage.TRAIN);
    assertThat(awaitPhase("exit-1", Phase.Training).getStatus().getStages().getFetch().getJobName()).isEqualTo("exit-1-fetch");
    assertThat(second.getMetadata().getName()).isNotBlank();
  }

  /** A node evicts the training pod: the Job replaces it without counting a failure; the run goes on. */
  @Test
  void anEvictionIsADisruptionNotAFailure() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "evicted";
    apply(example("mistral-32k.yaml", name));
    untilTraining(name);
    kubelet.evict(jobName(name, Stage.TRAIN));
    Pod replacement = kubelet.awaitPod(jobName(name, Stage.TRAIN));
    assertThat(kubelet.pods(jobName(name, Stage.TRAIN))).hasSize(2);
    Job train = job(name, Stage.TRAIN);
    assertThat(train.getStatus().getFailed() == null ? 0 : train.getStatus().getFailed())
        .as("an ignored disruption is not a failed pod of the Job").isZero();
    kubelet.run(jobName(name, Stage.TRAIN));
    TrainReport resumed = new TrainReport();
    resumed.setStep(401);
    resumed.setTotalSteps(1000);
    resumed.setLastCheckpointStep(400);
    report(name, Stage.TRAIN, resumed);
    ContextExtension cx = awaitStatus(name, c -> c.getStatus().getTraining() != null
        && Integer.valueOf(401).equals(c.getStatus().getTraining().getStep()) && c.getStatus().getPhase() == Phase.Training);
    assertThat(condition(cx, "Failed", "False", null)).isTrue();
    assertThat(cx.getStatus().getTraining().getRestarts() == null ? 0 : cx.getStatus().getTraining().getRestarts())
        .as("restarts count failures, not disruptions").isZero();
    assertThat(replacement.getMetadata().getName()).isNotEqualTo(kubelet.pods(jobName(name, Stage.TRAIN)).get(0)
        .getMetadata().getName());
  }

  /** Suspending deletes the running pods (the Job controller does it); resuming the same Job starts a new pod. */
  @Test
  void suspendAndResumeWithTheRealJobController() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "suspended";
    apply(example("mistral-32k.yaml", name));
    untilTraining(name);
    String trainUid = job(name, Stage.TRAIN).getMetadata().getUid();
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).edit(c -> {
      c.getSpec().setSuspend(true);
      return c;
    });
    ContextExtension cx = awaitPhase(name, Phase.Suspended);
    assertThat(condition(cx, "Suspended", "True", "Suspended")).isTrue();
    Job job = job(name, Stage.TRAIN);
    assertThat(job.getSpec().getSuspend()).isTrue();
    assertThat(job.getStatus().getConditions()).anyMatch(c -> "Suspended".equals(c.getType()) && "True".equals(c.getStatus()));
    await().atMost(PATIENCE).until(() -> kubelet.pods(jobName(name, Stage.TRAIN)).stream()
        .allMatch(p -> p.getMetadata().getDeletionTimestamp() != null));

    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).edit(c -> {
      c.getSpec().setSuspend(false);
      return c;
    });
    kubelet.awaitPod(jobName(name, Stage.TRAIN));
    kubelet.run(jobName(name, Stage.TRAIN));
    cx = awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training && condition(c, "Suspended", "False", null));
    assertThat(job(name, Stage.TRAIN).getMetadata().getUid()).as("the same Job resumes").isEqualTo(trainUid);
    assertThat(jobs(name)).hasSize(2);
  }

  @Test
  void aSecretCreatedLateStartsTheStage() {
    secrets("corpus-s3", "hf-write-token");
    String name = "late-secret";
    ContextExtension spec = example("mistral-32k.yaml", name);
    spec.getSpec().getModel().setCredentialsSecret("late-token");
    apply(spec);
    ContextExtension cx = awaitStatus(name, c -> c.getStatus() != null && condition(c, "Progressing", "False", "SecretNotFound"));
    assertThat(cx.getStatus().condition("Progressing").orElseThrow().getMessage()).isEqualTo(
        "spec.model.credentialsSecret: Secret \"late-token\" not found in namespace " + namespace + " (Fetch waits for it)");
    assertThat(job(name, Stage.FETCH)).isNull();
    secrets("late-token");
    awaitJob(name, Stage.FETCH);
    cx = awaitPhase(name, Phase.Fetching);
    assertThat(condition(cx, "Stalled", "False", null)).isTrue();
  }

  static {
    // the Job controller's back-off before a replacement pod starts at 10 s
    org.awaitility.Awaitility.setDefaultTimeout(Duration.ofSeconds(60));
  }
}
