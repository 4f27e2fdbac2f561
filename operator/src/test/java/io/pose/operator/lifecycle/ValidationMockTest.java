package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** What a real API server would reject through CEL, the operator rejects itself (the mock server runs no CEL). */
class ValidationMockTest extends MockTestBase {

  @Test
  void anInvalidSpecCreatesNothingAndSaysWhy() {
    ContextExtension spec = OperatorHarness.example("mistral-32k.yaml");
    spec.getSpec().setTargetContextLength(4096); // below the original 8192
    spec.getSpec().getPose().setChunks(0);
    String name = applyWithSecrets(spec).getMetadata().getName();

    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus() != null && condition(c, "Valid", "False", "InvalidSpec"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage())
        .isEqualTo("spec.pose.chunks: 0 is less than the minimum 1");
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Failed);
    assertThat(condition(cx, "Failed", "True", "InvalidSpec")).isTrue();
    assertThat(condition(cx, "Stalled", "True", "InvalidSpec")).isTrue();
    Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(k8s.owned(cx)).as("an invalid spec creates nothing").isEmpty();

    // fixing one rule reveals the next; fixing both starts the run
    k8s.edit(name, c -> c.getSpec().getPose().setChunks(2));
    cx = k8s.awaitStatus(name, c -> c.getStatus().condition("Valid").orElseThrow().getMessage().startsWith("spec.targetContextLength"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage()).isEqualTo(
        "spec.targetContextLength: 4096 must be greater than spec.model.originalContextLength; "
            + "spec.pose.trainingWindow: 8192 must be less than spec.targetContextLength; "
            + "spec.evaluation.passkey.lengths: [4096, 8192, 16384, 32768] must each be in [128, spec.targetContextLength]");
    k8s.edit(name, c -> c.getSpec().setTargetContextLength(32768));
    k8s.awaitJob(name, Stage.FETCH);
    cx = k8s.awaitStatus(name, c -> condition(c, "Valid", "True", "SpecValid"));
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Fetching);
    assertThat(condition(cx, "Failed", "False", null)).isTrue();
  }

  @Test
  void aResourceWithoutSpecIsInvalidNotACrash() {
    ContextExtension empty = new ContextExtension();
    empty.getMetadata().setName("empty");
    k8s.apply(empty);
    ContextExtension cx = k8s.awaitStatus("empty", c -> c.getStatus() != null && condition(c, "Valid", "False", "InvalidSpec"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage()).isEqualTo("spec: is required");
    assertThat(k8s.jobs()).isEmpty();
  }

  @Test
  void aMissingSecretHoldsTheStageUntilItExists() {
    k8s.secret("corpus-s3");
    String name = k8s.apply(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus() != null
        && condition(c, "Progressing", "False", "SecretNotFound"));
    assertThat(cx.getStatus().condition("Progressing").orElseThrow().getMessage()).isEqualTo(
        "spec.model.credentialsSecret: Secret \"hf-token\" not found in namespace test (Fetch waits for it)");
    assertThat(condition(cx, "Stalled", "True", "SecretNotFound")).isTrue();
    assertThat(condition(cx, "Valid", "True", null)).isTrue();
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Pending);
    assertThat(k8s.job(name, Stage.FETCH)).isNull();
    assertThat(client.v1().events().inNamespace(NAMESPACE).list().getItems())
        .anyMatch(e -> "SecretNotFound".equals(e.getReason()));

    k8s.secret("hf-token"); // the operator retries on its own: no event on the resource is needed
    k8s.awaitJob(name, Stage.FETCH);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Fetching);
    assertThat(condition(cx, "Stalled", "False", null)).isTrue();
  }

  @Test
  void changingAnImmutableFieldAfterTheRunStartedIsRefused() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    String accepted = k8s.awaitStatus(name, c -> c.getStatus().getSpecFingerprint() != null).getStatus().getSpecFingerprint();

    k8s.edit(name, c -> c.getSpec().getTraining().setSteps(2000));
    ContextExtension cx = k8s.awaitStatus(name, c -> condition(c, "Valid", "False", "ImmutableFieldChanged"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage()).startsWith(
        "spec.training is immutable once created: delete and re-create the ContextExtension to start a new run");
    assertThat(cx.getStatus().getSpecFingerprint()).as("the accepted spec is kept").isEqualTo(accepted);
    assertThat(cx.getStatus().getPhase()).as("the running stage goes on").isEqualTo(Phase.Fetching);

    k8s.jobSucceeded(name, Stage.FETCH);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getStages().getFetch().getState().name().equals("Succeeded"));
    Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(k8s.job(name, Stage.TRAIN)).as("no new stage starts with a changed spec").isNull();

    k8s.edit(name, c -> c.getSpec().getTraining().setSteps(1000)); // reverting is accepted
    k8s.awaitJob(name, Stage.TRAIN);
    cx = k8s.awaitStatus(name, c -> condition(c, "Valid", "True", null));
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Training);
  }

  @Test
  void mutableFieldsMayChangeDuringARun() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    k8s.awaitStatus(name, c -> c.getStatus() != null && c.getStatus().getPhase() == Phase.Fetching);
    k8s.edit(name, c -> c.getSpec().getPublish().setTarget("hf://my-org/other-name"));
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getObservedGeneration() == 2L);
    assertThat(condition(cx, "Valid", "True", null)).isTrue();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> k8s.configMap(name + "-config").getData()
        .get("config.yaml").contains("hf://my-org/other-name"));
  }
}
