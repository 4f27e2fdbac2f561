package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.pose.api.progress.FetchReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Failed stages, a failed quality gate and a model that contradicts the spec: phase Failed, nothing more runs. */
class FailureMockTest extends MockTestBase {

  @Test
  void failedTrainingStageFailsTheResourceWithThePodsMessage() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    k8s.jobFailed(name, Stage.TRAIN, 1, "step 312: loss is NaN\nNCCL watchdog: collective timed out after 600s\n"
        + "aborting", "BackoffLimitExceeded");

    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Failed);
    assertThat(condition(cx, "Failed", "True", "TrainFailed")).isTrue();
    assertThat(condition(cx, "Stalled", "True", "TrainFailed")).isTrue();
    assertThat(condition(cx, "Progressing", "False", "TrainFailed")).isTrue();
    assertThat(condition(cx, "Ready", "False", null)).isTrue();
    String message = cx.getStatus().condition("Failed").orElseThrow().getMessage();
    assertThat(message).isEqualTo("Train failed: exit code 1 (RuntimeFailure): step 312: loss is NaN | "
        + "NCCL watchdog: collective timed out after 600s | aborting");
    assertThat(cx.getStatus().getStages().getTrain().getState()).isEqualTo(StageState.Failed);
    assertThat(cx.getStatus().getTraining().getRestarts()).isEqualTo(1);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> client.v1().events().inNamespace(NAMESPACE).list()
        .getItems().stream().anyMatch(e -> "TrainFailed".equals(e.getReason()) && "Warning".equals(e.getType())));

    // the failure is final: the message survives later reconciliations and Evaluate never starts
    k8s.edit(name, c -> c.getMetadata().setLabels(java.util.Map.of("touched", "yes")));
    Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    cx = k8s.get(name);
    assertThat(cx.getStatus().condition("Failed").orElseThrow().getMessage()).isEqualTo(message);
    assertThat(k8s.job(name, Stage.EVALUATE)).isNull();
    assertThat(client.v1().events().inNamespace(NAMESPACE).list().getItems().stream()
        .filter(e -> "TrainFailed".equals(e.getReason())).count()).as("one event per failure").isEqualTo(1);
  }

  @Test
  void invalidConfigurationExitCodeIsExplained() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    k8s.jobFailed(name, Stage.FETCH, 2, "spec.model.source: hf://mistralai/Mistral-7B-v0.1 has no config.json",
        "PodFailurePolicy");
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Failed);
    assertThat(cx.getStatus().condition("Failed").orElseThrow().getMessage()).isEqualTo("Fetch failed: exit code 2 "
        + "(InvalidConfiguration): spec.model.source: hf://mistralai/Mistral-7B-v0.1 has no config.json");
    assertThat(k8s.job(name, Stage.TRAIN)).isNull();
  }

  @Test
  void qualityGateKeepsABadModelFromBeingPublished() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    k8s.jobSucceeded(name, Stage.TRAIN);
    k8s.awaitJob(name, Stage.EVALUATE);
    k8s.report(name, Stage.EVALUATE, passkey(32768, 0.42));
    k8s.jobSucceeded(name, Stage.EVALUATE);

    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Failed);
    assertThat(condition(cx, "Failed", "True", "QualityGateFailed")).isTrue();
    assertThat(cx.getStatus().condition("Failed").orElseThrow().getMessage()).isEqualTo("spec.publish.requirePasskeyAccuracy: "
        + "passkey accuracy at 32768 tokens is 0.420, below the required 0.900; nothing was published");
    assertThat(cx.getStatus().getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.42);
    assertThat(k8s.job(name, Stage.PUBLISH)).isNull();
    assertThat(client.v1().events().inNamespace(NAMESPACE).list().getItems()).extracting(Event::getReason)
        .contains("QualityGateFailed");
  }

  @Test
  void aModelWhoseOriginalLengthContradictsTheSpecStopsBeforeTraining() {
    ContextExtension spec = OperatorHarness.example("llama2-7b-16k.yaml"); // takes its original length from config.json
    String name = applyWithSecrets(spec).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    FetchReport fetched = new FetchReport();
    fetched.setOriginalContextLength(16384); // a model already at 16k cannot be extended to 16k
    k8s.report(name, Stage.FETCH, fetched);
    k8s.jobSucceeded(name, Stage.FETCH);

    ContextExtension cx = k8s.awaitStatus(name, c -> condition(c, "Valid", "False", "InvalidForModel"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage()).contains(
        "spec.targetContextLength: 16384 must be greater than the model's original context length 16384 (from its config.json)");
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Failed);
    assertThat(k8s.job(name, Stage.TRAIN)).isNull();
  }
}
