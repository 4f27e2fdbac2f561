package io.pose.operator.status;

import static io.pose.operator.status.StatusFixtures.BACKOFF;
import static io.pose.operator.status.StatusFixtures.LATER;
import static io.pose.operator.status.StatusFixtures.created;
import static io.pose.operator.status.StatusFixtures.failed;
import static io.pose.operator.status.StatusFixtures.jobs;
import static io.pose.operator.status.StatusFixtures.none;
import static io.pose.operator.status.StatusFixtures.running;
import static io.pose.operator.status.StatusFixtures.succeeded;
import static io.pose.operator.status.StatusFixtures.suspended;
import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.EvaluationSettings;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StageStatus;
import io.pose.api.v1alpha1.StagesStatus;
import io.pose.operator.Fixtures;
import io.pose.operator.model.Resolved;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AssessmentTest {

  static final Resolved MISTRAL = Fixtures.resolved("mistral-32k.yaml");

  static ContextExtensionStatus recorded(Stage stage, StageState state, String jobName) {
    StageStatus s = new StageStatus(state);
    s.setJobName(jobName);
    s.setCompletionTime(LATER);
    return recorded(Map.of(stage, s));
  }

  static ContextExtensionStatus recorded(Map<Stage, StageStatus> stages) {
    ContextExtensionStatus status = new ContextExtensionStatus();
    StagesStatus st = new StagesStatus();
    stages.forEach(st::set);
    status.setStages(st);
    return status;
  }

  static StageStatus stage(StageState state, String jobName) {
    StageStatus s = new StageStatus(state);
    s.setJobName(jobName);
    return s;
  }

  static Resolved withoutEvaluationAndPublish() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getSpec().setEvaluation(null);
    cx.getSpec().setPublish(null);
    return Fixtures.resolve(cx);
  }

  @Test
  void nothingStartedNextIsFetch() {
    Assessment a = Assessment.of(MISTRAL, none(), Map.of());
    assertThat(a.stages()).containsOnlyKeys(Stage.values());
    assertThat(a.stages().values()).allSatisfy(s -> {
      assertThat(s.getState()).isEqualTo(StageState.Pending);
      assertThat(s.getJobName()).isNull();
    });
    assertThat(a.next()).contains(Stage.FETCH);
    assertThat(a.failed()).isEmpty();
    assertThat(a.active()).isEmpty();
    assertThat(a.complete()).isFalse();
  }

  @Test
  void queuedFetchIsActiveAndNothingIsNext() {
    Assessment a = Assessment.of(MISTRAL, none(), jobs(created(MISTRAL, Stage.FETCH)));
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Queued);
    assertThat(a.stages().get(Stage.FETCH).getJobName()).isEqualTo("mistral-7b-32k-fetch");
    assertThat(a.active()).contains(Stage.FETCH);
    assertThat(a.next()).isEmpty();
    assertThat(a.complete()).isFalse();
  }

  @Test
  void runningTrainIsActive() {
    Assessment a = Assessment.of(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), running(MISTRAL, Stage.TRAIN)));
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Succeeded);
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Running);
    assertThat(a.active()).contains(Stage.TRAIN);
    assertThat(a.next()).isEmpty();
  }

  @Test
  void afterASucceededStageTheNextOneIsNext() {
    Assessment a = Assessment.of(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH)));
    assertThat(a.next()).contains(Stage.TRAIN);
    assertThat(a.active()).isEmpty();
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Pending);
  }

  @Test
  void succeededStageStaysSucceededWhenItsJobIsDeleted() {
    ContextExtensionStatus previous = recorded(Stage.FETCH, StageState.Succeeded, "mistral-7b-32k-fetch");
    Assessment a = Assessment.of(MISTRAL, previous, Map.of());
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Succeeded);
    assertThat(a.stages().get(Stage.FETCH).getJobName()).isEqualTo("mistral-7b-32k-fetch");
    assertThat(a.stages().get(Stage.FETCH).getCompletionTime()).isEqualTo(LATER);
    assertThat(a.next()).contains(Stage.TRAIN);
  }

  @Test
  void severalSucceededStagesStaySucceeded() {
    ContextExtensionStatus previous = recorded(Map.of(
        Stage.FETCH, stage(StageState.Succeeded, "mistral-7b-32k-fetch"),
        Stage.TRAIN, stage(StageState.Succeeded, "mistral-7b-32k-train")));
    Assessment a = Assessment.of(MISTRAL, previous, jobs(running(MISTRAL, Stage.EVALUATE)));
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Succeeded);
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Succeeded);
    assertThat(a.active()).contains(Stage.EVALUATE);
    assertThat(a.next()).isEmpty();
  }

  @Test
  void failedStageStaysFailedWhenItsJobIsDeleted() {
    StageStatus train = stage(StageState.Failed, "mistral-7b-32k-train");
    train.setMessage("exit code 3 (MissingInput): checkpoint corrupt");
    ContextExtensionStatus previous = recorded(Map.of(
        Stage.FETCH, stage(StageState.Succeeded, "mistral-7b-32k-fetch"), Stage.TRAIN, train));
    Assessment a = Assessment.of(MISTRAL, previous, Map.of());
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Failed);
    assertThat(a.stages().get(Stage.TRAIN).getMessage()).isEqualTo("exit code 3 (MissingInput): checkpoint corrupt");
    assertThat(a.failed()).contains(Stage.TRAIN);
    assertThat(a.next()).isEmpty();
    assertThat(a.complete()).isFalse();
  }

  @Test
  void startedStageWhoseJobDisappearedIsPendingAgainAndNext() {
    ContextExtensionStatus previous = recorded(Map.of(
        Stage.FETCH, stage(StageState.Succeeded, "mistral-7b-32k-fetch"),
        Stage.TRAIN, stage(StageState.Running, "mistral-7b-32k-train")));
    Assessment a = Assessment.of(MISTRAL, previous, Map.of());
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Pending);
    assertThat(a.stages().get(Stage.TRAIN).getJobName()).isEqualTo("mistral-7b-32k-train");
    assertThat(a.next()).contains(Stage.TRAIN);
    assertThat(a.active()).isEmpty();
  }

  @Test
  void theJobWinsOverTheRecordedState() {
    // recorded Succeeded, but the Job (re-created by hand) runs again: what the Job says counts
    ContextExtensionStatus previous = recorded(Stage.FETCH, StageState.Succeeded, "mistral-7b-32k-fetch");
    Assessment a = Assessment.of(MISTRAL, previous, jobs(running(MISTRAL, Stage.FETCH)));
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Running);
    assertThat(a.active()).contains(Stage.FETCH);
  }

  @Test
  void failedJobIsFailedWithItsMessage() {
    Assessment a = Assessment.of(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), failed(MISTRAL, Stage.TRAIN, 4)));
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Failed);
    assertThat(a.stages().get(Stage.TRAIN).getMessage()).isEqualTo(BACKOFF);
    assertThat(a.stages().get(Stage.TRAIN).getFailedPods()).isEqualTo(4);
    assertThat(a.failed()).contains(Stage.TRAIN);
    assertThat(a.next()).isEmpty();
    assertThat(a.active()).isEmpty();
  }

  @Test
  void recordedFailureExplanationIsKeptWhileTheJobStaysFailed() {
    StageStatus train = stage(StageState.Failed, "mistral-7b-32k-train");
    train.setMessage("exit code 2 (InvalidConfiguration): bad window");
    ContextExtensionStatus previous = recorded(Map.of(Stage.TRAIN, train));
    Assessment a = Assessment.of(MISTRAL, previous, jobs(succeeded(MISTRAL, Stage.FETCH), failed(MISTRAL, Stage.TRAIN, 1)));
    assertThat(a.stages().get(Stage.TRAIN).getMessage()).isEqualTo("exit code 2 (InvalidConfiguration): bad window");
  }

  @Test
  void evaluateAndPublishSkippedWhenNotConfigured() {
    Resolved r = withoutEvaluationAndPublish();
    Assessment a = Assessment.of(r, none(), Map.of());
    assertThat(a.state(Stage.EVALUATE)).isEqualTo(StageState.Skipped);
    assertThat(a.state(Stage.PUBLISH)).isEqualTo(StageState.Skipped);
    assertThat(a.next()).contains(Stage.FETCH);

    Assessment done = Assessment.of(r, none(), jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN)));
    assertThat(done.complete()).isTrue();
    assertThat(done.next()).isEmpty();
    assertThat(done.active()).isEmpty();
    assertThat(done.failed()).isEmpty();
  }

  @Test
  void evaluationWithoutAnyMeasureIsSkipped() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    EvaluationSettings e = new EvaluationSettings();
    e.setCompareWithBase(true);
    cx.getSpec().setEvaluation(e);
    Assessment a = Assessment.of(Fixtures.resolve(cx), none(), Map.of());
    assertThat(a.state(Stage.EVALUATE)).isEqualTo(StageState.Skipped);
    assertThat(a.state(Stage.PUBLISH)).isEqualTo(StageState.Pending);
  }

  @Test
  void nextStepsOverSkippedStages() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getSpec().setEvaluation(null);
    Resolved r = Fixtures.resolve(cx);
    Assessment a = Assessment.of(r, none(), jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN)));
    assertThat(a.state(Stage.EVALUATE)).isEqualTo(StageState.Skipped);
    assertThat(a.next()).contains(Stage.PUBLISH);
    assertThat(a.complete()).isFalse();
  }

  @Test
  void aStartedStageStaysObservedWhenItsConfigurationIsRemoved() {
    // evaluation may be removed until Evaluate starts; once its Job runs, it is watched to its end, and
    // Publish does not start beside it
    Resolved r = withoutEvaluationAndPublish();
    Assessment a = Assessment.of(r, none(), jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN),
        running(MISTRAL, Stage.EVALUATE)));
    assertThat(a.state(Stage.EVALUATE)).isEqualTo(StageState.Running);
    assertThat(a.active()).contains(Stage.EVALUATE);
    assertThat(a.next()).isEmpty();
    assertThat(a.complete()).isFalse();
  }

  @Test
  void recordedSkippedStageRunsOnceConfigured() {
    ContextExtensionStatus previous = recorded(Map.of(
        Stage.FETCH, stage(StageState.Succeeded, "mistral-7b-32k-fetch"),
        Stage.TRAIN, stage(StageState.Succeeded, "mistral-7b-32k-train"),
        Stage.EVALUATE, new StageStatus(StageState.Skipped),
        Stage.PUBLISH, new StageStatus(StageState.Skipped)));
    Assessment a = Assessment.of(MISTRAL, previous, Map.of());
    assertThat(a.state(Stage.EVALUATE)).isEqualTo(StageState.Pending);
    assertThat(a.state(Stage.PUBLISH)).isEqualTo(StageState.Pending);
    assertThat(a.next()).contains(Stage.EVALUATE);
    assertThat(a.complete()).isFalse();
  }

  @Test
  void allSucceededIsComplete() {
    Assessment a = Assessment.of(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), succeeded(MISTRAL, Stage.TRAIN),
        succeeded(MISTRAL, Stage.EVALUATE), succeeded(MISTRAL, Stage.PUBLISH)));
    assertThat(a.complete()).isTrue();
    assertThat(a.next()).isEmpty();
    assertThat(a.active()).isEmpty();
    assertThat(a.failed()).isEmpty();
  }

  @Test
  void suspendedJobIsSuspendedAndActive() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getSpec().setSuspend(true);
    Resolved r = Fixtures.resolve(cx);
    Assessment a = Assessment.of(r, none(), jobs(succeeded(r, Stage.FETCH), suspended(r, Stage.TRAIN)));
    assertThat(a.state(Stage.TRAIN)).isEqualTo(StageState.Suspended);
    assertThat(a.active()).contains(Stage.TRAIN);
    assertThat(a.next()).isEmpty();
  }

  @Test
  void kueueSuspendedJobIsQueued() {
    Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
    Assessment a = Assessment.of(r, none(), jobs(created(r, Stage.FETCH)));
    assertThat(a.state(Stage.FETCH)).isEqualTo(StageState.Queued);
    assertThat(a.active()).contains(Stage.FETCH);
  }

  @Test
  void failedWinsOverNextAndFirstFailureIsReported() {
    ContextExtensionStatus previous = recorded(Stage.FETCH, StageState.Failed, "mistral-7b-32k-fetch");
    Assessment a = Assessment.of(MISTRAL, previous, jobs(failed(MISTRAL, Stage.TRAIN, 1)));
    assertThat(a.failed()).contains(Stage.FETCH);
    assertThat(a.next()).isEmpty();
  }
}
