package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import java.util.HashMap;
import org.junit.jupiter.api.Test;

/** The pose.io/retry annotation: once per value, from the failed stage, never while a run is in progress. */
class RetryMockTest extends MockTestBase {

  private void retry(String name, String value) {
    k8s.edit(name, c -> {
      var annotations = c.getMetadata().getAnnotations() == null ? new HashMap<String, String>()
          : new HashMap<>(c.getMetadata().getAnnotations());
      annotations.put("pose.io/retry", value);
      c.getMetadata().setAnnotations(annotations);
    });
  }

  @Test
  void aRetryWhileTheRunIsInProgressIsRecordedAndIgnored() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    String trainUid = k8s.job(name, Stage.TRAIN).getMetadata().getUid();
    retry(name, "1");
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getRetry() != null);
    assertThat(cx.getStatus().getRetry().getObserved()).isEqualTo("1");
    assertThat(cx.getStatus().getRetry().getFrom()).isNull();
    assertThat(cx.getStatus().getRetry().getCount()).isNull();
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Training);
    assertThat(k8s.job(name, Stage.TRAIN).getMetadata().getUid()).isEqualTo(trainUid);
    await().atMost(Duration.ofSeconds(10)).until(() -> client.v1().events().inNamespace(NAMESPACE).list().getItems()
        .stream().anyMatch(e -> "RetryIgnored".equals(e.getReason())));
  }

  @Test
  void aFailedEvaluationIsRetriedFromEvaluateAndTrainingIsKept() {
    String name = applyWithSecrets(OperatorHarness.example("mistral-32k.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTraining(name, 8192);
    k8s.jobSucceeded(name, Stage.TRAIN);
    String trainUid = k8s.job(name, Stage.TRAIN).getMetadata().getUid();
    String evaluateUid = k8s.awaitJob(name, Stage.EVALUATE).getMetadata().getUid();
    k8s.jobFailed(name, Stage.EVALUATE, 1, "CUDA error: out of memory", "BackoffLimitExceeded");
    k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Failed);

    retry(name, "after-oom");
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus().getRetry() != null
        && "Evaluate".equals(c.getStatus().getRetry().getFrom()));
    assertThat(cx.getStatus().getRetry().getCount()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(20)).until(() -> k8s.job(name, Stage.EVALUATE) != null
        && !evaluateUid.equals(k8s.job(name, Stage.EVALUATE).getMetadata().getUid()));
    assertThat(k8s.job(name, Stage.TRAIN).getMetadata().getUid()).as("Train is not run again").isEqualTo(trainUid);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Evaluating);
    assertThat(cx.getStatus().getStages().getTrain().getState()).isEqualTo(StageState.Succeeded);
    assertThat(cx.getStatus().isTrue("Failed")).isFalse();
    assertThat(client.v1().events().inNamespace(NAMESPACE).list().getItems()).extracting(Event::getReason)
        .contains("Retrying");
  }
}
