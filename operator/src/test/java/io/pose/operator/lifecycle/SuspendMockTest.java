package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class SuspendMockTest extends MockTestBase {

  @Test
  void suspendingStopsTheRunningStageAndResumingContinuesIt() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    String trainUid = k8s.job(name, Stage.TRAIN).getMetadata().getUid();

    k8s.edit(name, c -> c.getSpec().setSuspend(true));
    Awaitility.await().atMost(Duration.ofSeconds(20))
        .until(() -> Boolean.TRUE.equals(k8s.job(name, Stage.TRAIN).getSpec().getSuspend()));
    Job suspended = k8s.job(name, Stage.TRAIN);
    assertThat(suspended.getMetadata().getAnnotations()).containsEntry("pose.io/suspended-by-spec", "true");
    // the Job controller reacts to suspend by deleting the pods
    suspended.getStatus().setActive(0);
    suspended.getStatus().setReady(0);
    client.batch().v1().jobs().resource(suspended).updateStatus();
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Suspended);
    assertThat(condition(cx, "Suspended", "True", "Suspended")).isTrue();
    assertThat(condition(cx, "Progressing", "False", "Suspended")).isTrue();
    assertThat(cx.getStatus().getStages().getTrain().getState().name()).isEqualTo("Suspended");

    k8s.edit(name, c -> c.getSpec().setSuspend(false));
    Awaitility.await().atMost(Duration.ofSeconds(20))
        .until(() -> Boolean.FALSE.equals(k8s.job(name, Stage.TRAIN).getSpec().getSuspend()));
    Job resumed = k8s.job(name, Stage.TRAIN);
    assertThat(resumed.getMetadata().getUid()).as("the same Job resumes, none is recreated").isEqualTo(trainUid);
    assertThat(resumed.getMetadata().getAnnotations()).doesNotContainKey("pose.io/suspended-by-spec");
    k8s.jobRunning(name, Stage.TRAIN);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training);
    assertThat(condition(cx, "Suspended", "False", "NotSuspended")).isTrue();
    assertThat(k8s.jobs()).hasSize(2);
  }

  @Test
  void aSuspendedResourceStartsNoNewStage() {
    ContextExtension spec = OperatorHarness.example("mistral-32k.yaml");
    spec.getSpec().setSuspend(true);
    String name = applyWithSecrets(spec).getMetadata().getName();
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus() != null && c.getStatus().getPhase() == Phase.Suspended);
    assertThat(condition(cx, "Suspended", "True", null)).isTrue();
    assertThat(k8s.jobs()).isEmpty();
    k8s.edit(name, c -> c.getSpec().setSuspend(false));
    assertThat(k8s.awaitJob(name, Stage.FETCH).getSpec().getSuspend()).isFalse();
  }
}
