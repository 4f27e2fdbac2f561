package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** All state lives in the API server: restarts lose nothing, re-applying changes nothing, deletion cleans up. */
class RestartAndDeletionMockTest extends MockTestBase {

  @Test
  void anOperatorRestartMidRunCreatesNoDuplicateAndLosesNothing() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    TrainReport report = new TrainReport();
    report.setStep(100);
    report.setTotalSteps(1000);
    report.setLoss(2.5);
    k8s.report(name, Stage.TRAIN, report);
    ContextExtension before = k8s.awaitStatus(name, c -> c.getStatus().getTraining() != null
        && Integer.valueOf(100).equals(c.getStatus().getTraining().getStep()));
    Map<String, String> uids = k8s.jobs().stream().collect(Collectors.toMap(j -> j.getMetadata().getName(),
        j -> j.getMetadata().getUid()));

    k8s.stop();
    report.setStep(200); // the trainer keeps going while the operator is away
    k8s.report(name, Stage.TRAIN, report);
    k8s.start();

    ContextExtension after = k8s.awaitStatus(name, c -> Integer.valueOf(200).equals(c.getStatus().getTraining().getStep()));
    assertThat(k8s.jobs().stream().collect(Collectors.toMap(j -> j.getMetadata().getName(), j -> j.getMetadata().getUid())))
        .isEqualTo(uids);
    assertThat(after.getStatus().getPhase()).isEqualTo(Phase.Training);
    assertThat(after.getStatus().getStages().getFetch().getState()).isEqualTo(before.getStatus().getStages().getFetch().getState());
    assertThat(after.getStatus().getSpecFingerprint()).isEqualTo(before.getStatus().getSpecFingerprint());
    assertThat(after.getStatus().getModel().getOriginalContextLength()).isEqualTo(8192);
    assertThat(after.getStatus().condition("Valid").orElseThrow().getLastTransitionTime())
        .isEqualTo(before.getStatus().condition("Valid").orElseThrow().getLastTransitionTime());

    k8s.jobSucceeded(name, Stage.TRAIN);
    k8s.awaitJob(name, Stage.EVALUATE);
    assertThat(k8s.jobs()).hasSize(3);
  }

  @Test
  void reApplyingTheSameSpecIsANoOp() {
    ContextExtension spec = OperatorHarness.example("mistral-32k.yaml");
    String name = applyWithSecrets(spec).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    ContextExtension settled = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Fetching);
    Awaitility.await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> true);
    settled = k8s.get(name);
    Map<String, String> versions = versions(k8s.owned(settled));
    int events = client.v1().events().inNamespace(NAMESPACE).list().getItems().size();

    // the operator resyncs every 2 s here; a settled status must not be patched again
    Awaitility.await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(7)).until(() -> true);
    assertThat(k8s.get(name).getMetadata().getResourceVersion()).as("no status patch without a change")
        .isEqualTo(settled.getMetadata().getResourceVersion());

    k8s.apply(OperatorHarness.example("mistral-32k.yaml")); // what a GitOps sync does
    Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    ContextExtension again = k8s.get(name);
    assertThat(again.getMetadata().getGeneration()).isEqualTo(settled.getMetadata().getGeneration());
    assertThat(again.getStatus().getConditions()).isEqualTo(settled.getStatus().getConditions());
    assertThat(versions(k8s.owned(again))).as("no owned object was written again").isEqualTo(versions);
    assertThat(client.v1().events().inNamespace(NAMESPACE).list().getItems()).hasSize(events);
  }

  @Test
  void everythingCreatedIsOwnedByTheResourceAndDeletionStopsTheOperator() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Fetching);
    assertThat(k8s.registry().find("pose.phase").tag("name", name).gauges()).isNotEmpty();
    List<HasMetadata> owned = k8s.owned(cx);
    assertThat(owned).hasSize(8);
    for (HasMetadata o : owned) {
      assertThat(o.getMetadata().getOwnerReferences()).as(o.getKind() + " " + o.getMetadata().getName())
          .singleElement().satisfies(ref -> {
            assertThat(ref.getUid()).isEqualTo(cx.getMetadata().getUid());
            assertThat(ref.getKind()).isEqualTo("ContextExtension");
            assertThat(ref.getController()).isTrue();
            assertThat(ref.getBlockOwnerDeletion()).isTrue();
          });
    }
    assertThat(cx.getMetadata().getFinalizers()).as("no finalizer: deletion never waits for the operator").isEmpty();

    client.resource(cx).delete();
    // the API server's garbage collector deletes the owned objects (the mock server does not run one)
    for (HasMetadata o : owned) {
      client.resource(o).delete();
    }
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
        k8s.registry().find("pose.phase").tag("name", name).gauges().isEmpty());
    Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(k8s.jobs()).as("nothing is re-created for a deleted resource").isEmpty();
  }

  private static Map<String, String> versions(List<HasMetadata> objects) {
    return objects.stream().collect(Collectors.toMap(o -> o.getKind() + "/" + o.getMetadata().getName(),
        o -> o.getMetadata().getResourceVersion()));
  }
}
