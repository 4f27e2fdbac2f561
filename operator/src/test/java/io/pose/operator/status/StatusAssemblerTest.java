package io.pose.operator.status;

import static io.pose.operator.status.StatusFixtures.BACKOFF;
import static io.pose.operator.status.StatusFixtures.LATER;
import static io.pose.operator.status.StatusFixtures.LATEST;
import static io.pose.operator.status.StatusFixtures.NOW;
import static io.pose.operator.status.StatusFixtures.created;
import static io.pose.operator.status.StatusFixtures.evaluation;
import static io.pose.operator.status.StatusFixtures.failed;
import static io.pose.operator.status.StatusFixtures.fetchReport;
import static io.pose.operator.status.StatusFixtures.jobs;
import static io.pose.operator.status.StatusFixtures.none;
import static io.pose.operator.status.StatusFixtures.progress;
import static io.pose.operator.status.StatusFixtures.publishReport;
import static io.pose.operator.status.StatusFixtures.running;
import static io.pose.operator.status.StatusFixtures.succeeded;
import static io.pose.operator.status.StatusFixtures.suspended;
import static io.pose.operator.status.StatusFixtures.trainReport;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.ModelStatus;
import io.pose.api.v1alpha1.OutputStatus;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.TrainingStatus;
import io.pose.operator.Fixtures;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.ProgressSnapshot;
import io.pose.operator.status.StatusAssembler.Event;
import io.pose.operator.status.StatusAssembler.Result;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class StatusAssemblerTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String FINGERPRINT = "model=1f2e3d4c,targetContextLength=0a0b0c0d";
  static final String PUBLISHED = "hf://my-org/mistral-7b-pose-32k";
  static final String MODEL_URI = "pvc://mistral-7b-32k-workspace/extended";

  static final Resolved MISTRAL = Fixtures.resolved("mistral-32k.yaml");

  static final Problem SECRET_MISSING = new Problem("SecretNotFound",
      "spec.model.credentialsSecret: Secret \"hf-token\" not found in namespace test (Fetch waits for it)");
  static final Problem INVALID = new Problem("InvalidSpec",
      "spec.pose.trainingWindow: must be below spec.targetContextLength");
  static final Problem GATE = new Problem("QualityGateFailed",
      "spec.publish.requirePasskeyAccuracy: passkey accuracy at 32768 tokens is 0.620, below the required 0.900; "
          + "nothing was published");
  static final Problem POD_FAILURE = new Problem("MissingInput",
      "exit code 3 (MissingInput): checkpoint step-400 is corrupt");

  // ---- helpers ----

  /** One reconciliation: assess the Jobs against the previous status, then assemble. */
  static Result assemble(Resolved r, ContextExtensionStatus previous, Map<Stage, Job> jobs, ProgressSnapshot progress,
      Verdict verdict, String now) {
    return StatusAssembler.assemble(r, previous, Assessment.of(r, previous, jobs), progress, verdict, FINGERPRINT, now);
  }

  static Result assemble(Resolved r, ContextExtensionStatus previous, Map<Stage, Job> jobs, String now) {
    return assemble(r, previous, jobs, ProgressSnapshot.empty(), Verdict.clean(), now);
  }

  /** The status as read back from the API server (what the reconciler passes as previous). */
  static ContextExtensionStatus stored(ContextExtensionStatus status) {
    return JSON.convertValue(status, ContextExtensionStatus.class);
  }

  static JsonNode tree(ContextExtensionStatus status) {
    return JSON.valueToTree(status);
  }

  static Condition condition(ContextExtensionStatus s, String type) {
    return s.condition(type).orElseThrow(() -> new AssertionError("no condition " + type));
  }

  static void assertCondition(ContextExtensionStatus s, String type, String status, String reason) {
    Condition c = condition(s, type);
    assertThat(c.getStatus()).as("%s.status", type).isEqualTo(status);
    assertThat(c.getReason()).as("%s.reason", type).isEqualTo(reason);
  }

  static Verdict invalid(Problem p) {
    return new Verdict(Optional.of(p), Optional.empty(), Optional.empty(), Map.of());
  }

  static Verdict gate(Problem p) {
    return new Verdict(Optional.empty(), Optional.of(p), Optional.empty(), Map.of());
  }

  static Verdict waiting(Problem p) {
    return new Verdict(Optional.empty(), Optional.empty(), Optional.of(p), Map.of());
  }

  static Verdict failures(Stage stage, Problem p) {
    return new Verdict(Optional.empty(), Optional.empty(), Optional.empty(), Map.of(stage, p));
  }

  static Map<Stage, Job> allSucceeded(Resolved r) {
    return jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN), succeeded(r, Stage.EVALUATE),
        succeeded(r, Stage.PUBLISH));
  }

  static Map<Stage, Job> throughEvaluation(Resolved r) {
    return jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN), succeeded(r, Stage.EVALUATE));
  }

  static Resolved suspendedMistral(boolean suspend) {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getSpec().setSuspend(suspend);
    return Fixtures.resolve(cx);
  }

  // ---- nothing started ----

  @Test
  void nothingStartedIsPending() {
    Result result = assemble(MISTRAL, none(), Map.of(), NOW);
    ContextExtensionStatus s = result.status();

    assertThat(s.getPhase()).isEqualTo(Phase.Pending);
    assertThat(s.getMessage()).isEqualTo("Fetch is about to start");
    assertThat(s.getObservedGeneration()).isEqualTo(1L);
    assertThat(s.getSpecFingerprint()).isEqualTo(FINGERPRINT);
    assertThat(s.getConditions()).extracting(Condition::getType).containsExactlyElementsOf(Conditions.ALL);
    assertThat(s.getConditions()).allSatisfy(c -> {
      assertThat(c.getStatus()).isIn("True", "False");
      assertThat(c.getLastTransitionTime()).isEqualTo(NOW);
      assertThat(c.getObservedGeneration()).isEqualTo(1L);
      assertThat(c.getReason()).matches("[A-Z][A-Za-z]*");
    });
    assertCondition(s, "Valid", "True", "SpecValid");
    assertThat(condition(s, "Valid").getMessage()).isEqualTo("the spec is valid");
    assertCondition(s, "Progressing", "True", "Pending");
    assertThat(condition(s, "Progressing").getMessage()).isEqualTo("Fetch is about to start");
    assertCondition(s, "Reconciling", "True", "Pending");
    assertCondition(s, "Succeeded", "False", "Pending");
    assertCondition(s, "Ready", "False", "NotReady");
    assertCondition(s, "Failed", "False", "NoFailure");
    assertThat(condition(s, "Failed").getMessage()).isEmpty();
    assertCondition(s, "Suspended", "False", "NotSuspended");
    assertCondition(s, "Stalled", "False", "NotStalled");

    for (Stage stage : Stage.values()) {
      assertThat(s.getStages().stateOf(stage)).isEqualTo(StageState.Pending);
    }
    assertThat(s.getModel()).isNull();
    assertThat(s.getTraining()).isNull();
    assertThat(s.getEvaluation()).isNull();
    assertThat(s.getOutput()).isNull();
    assertThat(result.events()).isEmpty();
  }

  @Test
  void observedGenerationFollowsTheResource() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getMetadata().setGeneration(7L);
    Result result = assemble(Fixtures.resolve(cx), none(), Map.of(), NOW);
    assertThat(result.status().getObservedGeneration()).isEqualTo(7L);
    assertThat(result.status().getConditions()).extracting(Condition::getObservedGeneration).containsOnly(7L);
  }

  // ---- stages starting and running ----

  @Nested
  class Running {

    @Test
    void fetchStartedOnPendingToQueued() {
      ContextExtensionStatus pending = stored(assemble(MISTRAL, none(), Map.of(), NOW).status());
      Result result = assemble(MISTRAL, pending, jobs(created(MISTRAL, Stage.FETCH)), LATER);
      ContextExtensionStatus s = result.status();

      assertThat(s.getPhase()).isEqualTo(Phase.Fetching);
      assertThat(s.getStages().getFetch().getState()).isEqualTo(StageState.Queued);
      assertThat(s.getStages().getFetch().getJobName()).isEqualTo("mistral-7b-32k-fetch");
      assertCondition(s, "Progressing", "True", "FetchQueued");
      assertThat(s.getMessage())
          .isEqualTo("Fetch is queued: its Job waits for admission or for its pods to be scheduled");
      // still progressing: the transition time is the first one
      assertThat(condition(s, "Progressing").getLastTransitionTime()).isEqualTo(NOW);
      assertThat(result.events()).containsExactly(Event.normal("FetchStarted", "created Job mistral-7b-32k-fetch"));
    }

    @Test
    void kueueJobWaitingForAdmissionIsQueued() {
      Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
      Result result = assemble(r, none(), jobs(created(r, Stage.FETCH)), NOW);
      assertThat(result.status().getPhase()).isEqualTo(Phase.Fetching);
      assertThat(result.status().getStages().getFetch().getState()).isEqualTo(StageState.Queued);
      assertCondition(result.status(), "Suspended", "False", "NotSuspended");
      assertThat(result.events()).containsExactly(Event.normal("FetchStarted", "created Job mistral-7b-64k-fetch"));
    }

    @Test
    void queuedToRunningIsNoEvent() {
      ContextExtensionStatus queued = stored(assemble(MISTRAL, none(), jobs(created(MISTRAL, Stage.FETCH)), NOW).status());
      Result result = assemble(MISTRAL, queued, jobs(running(MISTRAL, Stage.FETCH)), LATER);
      assertThat(result.status().getPhase()).isEqualTo(Phase.Fetching);
      assertCondition(result.status(), "Progressing", "True", "FetchRunning");
      assertThat(result.status().getMessage()).isEqualTo("Fetch is running");
      assertThat(result.events()).isEmpty();
    }

    @Test
    void trainingProgressFromTheReport() {
      ContextExtensionStatus previous = stored(assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH),
          running(MISTRAL, Stage.TRAIN)), NOW).status());
      Result result = assemble(MISTRAL, previous, jobs(succeeded(MISTRAL, Stage.FETCH),
          running(MISTRAL, Stage.TRAIN, 2)), progress(null, trainReport(420), null, null), Verdict.clean(), LATER);
      ContextExtensionStatus s = result.status();

      assertThat(s.getPhase()).isEqualTo(Phase.Training);
      TrainingStatus t = s.getTraining();
      assertThat(t.getProgress()).isEqualTo("420/1000");
      assertThat(t.getStep()).isEqualTo(420);
      assertThat(t.getTotalSteps()).isEqualTo(1000);
      assertThat(t.getLoss()).isEqualTo(1.234);
      assertThat(t.getLearningRate()).isEqualTo(2.0e-5);
      assertThat(t.getTokensPerSecond()).isEqualTo(5123.6);
      assertThat(t.getEtaSeconds()).isEqualTo(3725L);
      assertThat(t.getLastCheckpointStep()).isEqualTo(400);
      assertThat(t.getUpdatedAt()).isEqualTo(NOW);
      assertThat(t.getRestarts()).isEqualTo(2);
      assertCondition(s, "Progressing", "True", "TrainRunning");
      assertThat(s.getMessage()).isEqualTo("Train is running: step 420/1000, loss 1.234, 5124 tokens/s, ETA 1h2m5s");
      assertThat(condition(s, "Progressing").getMessage()).isEqualTo(s.getMessage());
      assertThat(result.events()).isEmpty();
    }

    @Test
    void totalStepsFromTheSpecWhenNotReported() {
      Resolved tiny = Fixtures.resolved("tiny-local.yaml");
      TrainReport report = new TrainReport();
      report.setStep(7);
      Result result = assemble(tiny, none(), jobs(succeeded(tiny, Stage.FETCH), running(tiny, Stage.TRAIN)),
          progress(null, report, null, null), Verdict.clean(), NOW);
      assertThat(result.status().getTraining().getProgress()).isEqualTo("7/20");
      assertThat(result.status().getTraining().getTotalSteps()).isEqualTo(20);
      assertThat(result.status().getTraining().getRestarts()).isNull();
      assertThat(result.status().getMessage()).isEqualTo("Train is running: step 7/20");
    }

    @Test
    void restartsWithoutAReportYet() {
      Result result = assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), running(MISTRAL, Stage.TRAIN, 3)),
          NOW);
      TrainingStatus t = result.status().getTraining();
      assertThat(t.getRestarts()).isEqualTo(3);
      assertThat(t.getStep()).isNull();
      assertThat(t.getProgress()).isNull();
      assertThat(result.status().getMessage()).isEqualTo("Train is running");
    }

    @Test
    void fetchReportFillsTheModel() {
      Result result = assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH)),
          progress(fetchReport(), null, null, null), Verdict.clean(), NOW);
      ModelStatus m = result.status().getModel();
      assertThat(m.getOriginalContextLength()).isEqualTo(8192);
      assertThat(m.getRevision()).isEqualTo("26bca36bde8333b5d7f72e9ed20ccda6a618af24");
      assertThat(m.getArchitecture()).isEqualTo("MistralForCausalLM");
      assertThat(m.getUri()).isEqualTo("pvc://mistral-7b-32k-workspace/base");
      assertThat(result.status().getPhase()).isEqualTo(Phase.Pending);
      assertThat(result.status().getMessage()).isEqualTo("Train is about to start");
    }

    @Test
    void evaluationAccuracyAtTheTargetLength() {
      Result result = assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), succeeded(MISTRAL, Stage.TRAIN),
          running(MISTRAL, Stage.EVALUATE)), progress(null, null, evaluation(0.94), null), Verdict.clean(), NOW);
      EvaluationResults e = result.status().getEvaluation();
      assertThat(e.getPasskeyAccuracyAtTarget()).isEqualTo(0.94);
      assertThat(e.getSchemaVersion()).isNull();
      assertThat(e.getPasskey()).extracting(EvaluationResults.PasskeyResult::getLength)
          .containsExactly(4096, 8192, 32768);
      assertThat(e.getCompleted()).isTrue();
      assertThat(result.status().getPhase()).isEqualTo(Phase.Evaluating);
    }

    @Test
    void noAccuracyAtTargetUntilMeasured() {
      EvaluationResults partial = new EvaluationResults();
      partial.setPasskey(new java.util.ArrayList<>(List.of(new EvaluationResults.PasskeyResult(4096, 50, 1.0, null))));
      Result result = assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), succeeded(MISTRAL, Stage.TRAIN),
          running(MISTRAL, Stage.EVALUATE)), progress(null, null, partial, null), Verdict.clean(), NOW);
      assertThat(result.status().getEvaluation().getPasskeyAccuracyAtTarget()).isNull();
      assertThat(result.status().getEvaluation().getPasskey()).hasSize(1);
    }

    @Test
    void previousValuesKeptWhenNoReport() {
      Map<Stage, Job> jobs = jobs(succeeded(MISTRAL, Stage.FETCH), succeeded(MISTRAL, Stage.TRAIN),
          running(MISTRAL, Stage.EVALUATE));
      TrainReport train = trainReport(1000);
      train.setModelUri(MODEL_URI);
      ContextExtensionStatus reported = stored(assemble(MISTRAL, none(), jobs,
          progress(fetchReport(), train, evaluation(0.94), null), Verdict.clean(), NOW).status());

      Result result = assemble(MISTRAL, reported, jobs, ProgressSnapshot.empty(), Verdict.clean(), LATER);
      ContextExtensionStatus s = result.status();
      assertThat(s.getModel().getOriginalContextLength()).isEqualTo(8192);
      assertThat(s.getModel().getArchitecture()).isEqualTo("MistralForCausalLM");
      assertThat(s.getTraining().getStep()).isEqualTo(1000);
      assertThat(s.getTraining().getProgress()).isEqualTo("1000/1000");
      assertThat(s.getTraining().getLoss()).isEqualTo(1.234);
      assertThat(s.getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.94);
      assertThat(s.getEvaluation().getPasskey()).hasSize(3);
      assertThat(s.getOutput().getModelUri()).isEqualTo(MODEL_URI);
      assertThat(s.getOutput().getPublishedUri()).isNull();
      assertThat(tree(s)).isEqualTo(tree(reported));
      assertThat(result.events()).isEmpty();
    }

    @Test
    void restartsFollowTheTrainJobWhenNoReport() {
      Map<Stage, Job> before = jobs(succeeded(MISTRAL, Stage.FETCH), running(MISTRAL, Stage.TRAIN, 1));
      ContextExtensionStatus reported = stored(assemble(MISTRAL, none(), before,
          progress(null, trainReport(420), null, null), Verdict.clean(), NOW).status());
      assertThat(reported.getTraining().getRestarts()).isEqualTo(1);

      Result result = assemble(MISTRAL, reported, jobs(succeeded(MISTRAL, Stage.FETCH), running(MISTRAL, Stage.TRAIN, 2)),
          LATER);
      assertThat(result.status().getTraining().getRestarts()).isEqualTo(2);
      assertThat(result.status().getTraining().getProgress()).isEqualTo("420/1000");
    }
  }

  // ---- failures ----

  @Nested
  class Failures {

    @Test
    void failedStageFailsTheResource() {
      ContextExtensionStatus training = stored(assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH),
          running(MISTRAL, Stage.TRAIN)), NOW).status());
      Result result = assemble(MISTRAL, training, jobs(succeeded(MISTRAL, Stage.FETCH), failed(MISTRAL, Stage.TRAIN, 4)),
          ProgressSnapshot.empty(), failures(Stage.TRAIN, POD_FAILURE), LATER);
      ContextExtensionStatus s = result.status();

      String message = "Train failed: exit code 3 (MissingInput): checkpoint step-400 is corrupt";
      assertThat(s.getPhase()).isEqualTo(Phase.Failed);
      assertThat(s.getMessage()).isEqualTo(message);
      assertThat(s.getStages().getTrain().getState()).isEqualTo(StageState.Failed);
      assertThat(s.getStages().getTrain().getMessage()).isEqualTo(POD_FAILURE.message());
      assertThat(s.getStages().getTrain().getFailedPods()).isEqualTo(4);
      assertThat(s.getTraining().getRestarts()).isEqualTo(4);
      assertCondition(s, "Failed", "True", "TrainFailed");
      assertThat(condition(s, "Failed").getMessage()).isEqualTo(message);
      assertThat(condition(s, "Failed").getLastTransitionTime()).isEqualTo(LATER);
      assertCondition(s, "Stalled", "True", "TrainFailed");
      assertCondition(s, "Progressing", "False", "TrainFailed");
      assertThat(condition(s, "Progressing").getLastTransitionTime()).isEqualTo(LATER);
      assertCondition(s, "Reconciling", "False", "TrainFailed");
      assertCondition(s, "Succeeded", "False", "TrainFailed");
      assertCondition(s, "Ready", "False", "NotReady");
      assertCondition(s, "Valid", "True", "SpecValid");
      assertThat(condition(s, "Valid").getLastTransitionTime()).isEqualTo(NOW);
      assertThat(result.events()).containsExactly(Event.warning("TrainFailed", message));
    }

    @Test
    void failedStageWithoutPodExplanationUsesTheJobsMessage() {
      Result result = assemble(MISTRAL, none(), jobs(failed(MISTRAL, Stage.FETCH, 3)), NOW);
      assertThat(result.status().getPhase()).isEqualTo(Phase.Failed);
      assertCondition(result.status(), "Failed", "True", "FetchFailed");
      assertThat(condition(result.status(), "Failed").getMessage()).isEqualTo("Fetch failed: " + BACKOFF);
      assertThat(result.events()).containsExactly(Event.warning("FetchFailed", "Fetch failed: " + BACKOFF));
    }

    @Test
    void failureIsReportedOnceAndItsExplanationKept() {
      Map<Stage, Job> jobs = jobs(succeeded(MISTRAL, Stage.FETCH), failed(MISTRAL, Stage.TRAIN, 4));
      Result first = assemble(MISTRAL, none(), jobs, ProgressSnapshot.empty(), failures(Stage.TRAIN, POD_FAILURE), NOW);
      // the reconciler explains a failure once, when it is new
      Result second = assemble(MISTRAL, stored(first.status()), jobs, ProgressSnapshot.empty(), Verdict.clean(), LATER);
      assertThat(second.events()).isEmpty();
      assertThat(second.status().getStages().getTrain().getMessage()).isEqualTo(POD_FAILURE.message());
      assertThat(second.status().getConditions()).isEqualTo(first.status().getConditions());
    }

    @Test
    void failedStageStaysFailedWhenItsJobIsDeleted() {
      Result first = assemble(MISTRAL, none(), jobs(succeeded(MISTRAL, Stage.FETCH), failed(MISTRAL, Stage.TRAIN, 4)),
          ProgressSnapshot.empty(), failures(Stage.TRAIN, POD_FAILURE), NOW);
      Result second = assemble(MISTRAL, stored(first.status()), Map.of(), LATER);
      assertThat(second.status().getPhase()).isEqualTo(Phase.Failed);
      assertThat(second.status().getStages().getTrain().getState()).isEqualTo(StageState.Failed);
      assertThat(second.status().getStages().getFetch().getState()).isEqualTo(StageState.Succeeded);
      assertThat(second.events()).isEmpty();
    }

    @Test
    void invalidSpecWithNothingRunningFails() {
      Result result = assemble(MISTRAL, none(), Map.of(), ProgressSnapshot.empty(), invalid(INVALID), NOW);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Failed);
      assertCondition(s, "Valid", "False", "InvalidSpec");
      assertThat(condition(s, "Valid").getMessage()).isEqualTo(INVALID.message());
      assertCondition(s, "Failed", "True", "InvalidSpec");
      assertThat(condition(s, "Failed").getMessage()).isEqualTo(INVALID.message());
      assertCondition(s, "Stalled", "True", "InvalidSpec");
      assertCondition(s, "Progressing", "False", "InvalidSpec");
      assertCondition(s, "Reconciling", "False", "InvalidSpec");
      assertThat(s.getMessage()).isEqualTo(INVALID.message());
      assertThat(result.events()).containsExactly(Event.warning("InvalidSpec", INVALID.message()));
    }

    @Test
    void invalidSpecIsReportedAgainOnlyWhenItsMessageChanges() {
      Result first = assemble(MISTRAL, none(), Map.of(), ProgressSnapshot.empty(), invalid(INVALID), NOW);
      Result same = assemble(MISTRAL, stored(first.status()), Map.of(), ProgressSnapshot.empty(), invalid(INVALID),
          LATER);
      assertThat(same.events()).isEmpty();
      assertThat(same.status().getConditions()).isEqualTo(first.status().getConditions());

      Problem other = new Problem("InvalidSpec", "spec.training.globalBatchSize: must be divisible");
      Result changed = assemble(MISTRAL, stored(same.status()), Map.of(), ProgressSnapshot.empty(), invalid(other),
          LATEST);
      assertThat(changed.events()).containsExactly(Event.warning("InvalidSpec", other.message()));
      // still False: the transition time stays
      assertThat(condition(changed.status(), "Valid").getLastTransitionTime()).isEqualTo(NOW);
      assertThat(condition(changed.status(), "Valid").getMessage()).isEqualTo(other.message());
    }

    @Test
    void invalidSpecWhileAStageRunsLetsItFinish() {
      Result result = assemble(MISTRAL, none(), jobs(running(MISTRAL, Stage.FETCH)), ProgressSnapshot.empty(),
          invalid(INVALID), NOW);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Fetching);
      assertCondition(s, "Valid", "False", "InvalidSpec");
      assertCondition(s, "Failed", "False", "NoFailure");
      assertCondition(s, "Progressing", "True", "FetchRunning");
      assertCondition(s, "Stalled", "False", "NotStalled");
      assertThat(result.events()).containsExactly(Event.warning("InvalidSpec", INVALID.message()),
          Event.normal("FetchStarted", "created Job mistral-7b-32k-fetch"));
    }

    @Test
    void becomingValidAgainFlipsValid() {
      Result invalidResult = assemble(MISTRAL, none(), Map.of(), ProgressSnapshot.empty(), invalid(INVALID), NOW);
      Result fixed = assemble(MISTRAL, stored(invalidResult.status()), Map.of(), LATER);
      assertCondition(fixed.status(), "Valid", "True", "SpecValid");
      assertThat(condition(fixed.status(), "Valid").getLastTransitionTime()).isEqualTo(LATER);
      assertCondition(fixed.status(), "Failed", "False", "NoFailure");
      assertThat(fixed.status().getPhase()).isEqualTo(Phase.Pending);
      assertThat(fixed.events()).isEmpty();
    }

    @Test
    void qualityGateFailureFailsBeforePublish() {
      Resolved r = MISTRAL;
      ContextExtensionStatus evaluating = stored(assemble(r, none(), jobs(succeeded(r, Stage.FETCH),
          succeeded(r, Stage.TRAIN), running(r, Stage.EVALUATE)), NOW).status());
      Result result = assemble(r, evaluating, throughEvaluation(r), progress(null, null, evaluation(0.62), null),
          gate(GATE), LATER);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Failed);
      assertThat(s.getStages().getPublish().getState()).isEqualTo(StageState.Pending);
      assertThat(s.getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.62);
      assertCondition(s, "Failed", "True", "QualityGateFailed");
      assertThat(condition(s, "Failed").getMessage()).isEqualTo(GATE.message());
      assertCondition(s, "Stalled", "True", "QualityGateFailed");
      assertCondition(s, "Progressing", "False", "QualityGateFailed");
      assertCondition(s, "Valid", "True", "SpecValid");
      assertThat(result.events()).containsExactly(Event.normal("EvaluateSucceeded",
          "Job mistral-7b-32k-eval completed"), Event.warning("QualityGateFailed", GATE.message()));

      Result again = assemble(r, stored(s), throughEvaluation(r), ProgressSnapshot.empty(), gate(GATE), LATEST);
      assertThat(again.events()).isEmpty();
      assertThat(again.status().getConditions()).isEqualTo(s.getConditions());
    }
  }

  // ---- waiting for the user ----

  @Nested
  class Waiting {

    @Test
    void missingSecretStallsWithoutFailing() {
      Result result = assemble(MISTRAL, none(), Map.of(), ProgressSnapshot.empty(), waiting(SECRET_MISSING), NOW);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Pending);
      assertCondition(s, "Progressing", "False", "SecretNotFound");
      assertThat(condition(s, "Progressing").getMessage()).isEqualTo(SECRET_MISSING.message());
      assertCondition(s, "Stalled", "True", "SecretNotFound");
      assertThat(condition(s, "Stalled").getMessage()).isEqualTo(SECRET_MISSING.message());
      assertCondition(s, "Reconciling", "False", "SecretNotFound");
      assertCondition(s, "Failed", "False", "NoFailure");
      assertCondition(s, "Valid", "True", "SpecValid");
      assertCondition(s, "Succeeded", "False", "SecretNotFound");
      assertThat(s.getMessage()).isEqualTo(SECRET_MISSING.message());
      assertThat(result.events()).containsExactly(Event.warning("SecretNotFound", SECRET_MISSING.message()));
    }

    @Test
    void missingSecretReportedOnceThenClearedWhenItAppears() {
      Result first = assemble(MISTRAL, none(), Map.of(), ProgressSnapshot.empty(), waiting(SECRET_MISSING), NOW);
      Result again = assemble(MISTRAL, stored(first.status()), Map.of(), ProgressSnapshot.empty(),
          waiting(SECRET_MISSING), LATER);
      assertThat(again.events()).isEmpty();
      assertThat(again.status().getConditions()).isEqualTo(first.status().getConditions());

      Result created = assemble(MISTRAL, stored(again.status()), jobs(created(MISTRAL, Stage.FETCH)), LATEST);
      assertCondition(created.status(), "Stalled", "False", "NotStalled");
      assertThat(condition(created.status(), "Stalled").getLastTransitionTime()).isEqualTo(LATEST);
      assertCondition(created.status(), "Progressing", "True", "FetchQueued");
      assertThat(condition(created.status(), "Progressing").getLastTransitionTime()).isEqualTo(LATEST);
      assertThat(created.events()).containsExactly(Event.normal("FetchStarted", "created Job mistral-7b-32k-fetch"));
    }
  }

  // ---- success ----

  @Nested
  class Success {

    @Test
    void allSucceededIsReady() {
      Resolved r = MISTRAL;
      TrainReport train = trainReport(1000);
      train.setModelUri(MODEL_URI);
      ContextExtensionStatus publishing = stored(assemble(r, none(), jobs(succeeded(r, Stage.FETCH),
          succeeded(r, Stage.TRAIN), succeeded(r, Stage.EVALUATE), running(r, Stage.PUBLISH)),
          progress(null, train, evaluation(0.94), null), Verdict.clean(), NOW).status());
      assertThat(publishing.getPhase()).isEqualTo(Phase.Publishing);

      Result result = assemble(r, publishing, allSucceeded(r), progress(null, null, null, publishReport(PUBLISHED)),
          Verdict.clean(), LATER);
      ContextExtensionStatus s = result.status();
      String ready = "the extended model is ready: " + PUBLISHED;

      assertThat(s.getPhase()).isEqualTo(Phase.Succeeded);
      assertThat(s.getStages().getPublish().getState()).isEqualTo(StageState.Succeeded);
      assertThat(s.getStages().getPublish().getCompletionTime()).isEqualTo(LATER);
      assertCondition(s, "Succeeded", "True", "Completed");
      assertThat(condition(s, "Succeeded").getMessage()).isEqualTo(ready);
      assertThat(condition(s, "Succeeded").getLastTransitionTime()).isEqualTo(LATER);
      assertCondition(s, "Ready", "True", "Completed");
      assertThat(condition(s, "Ready").getMessage()).isEqualTo(ready);
      assertCondition(s, "Progressing", "False", "Completed");
      assertThat(condition(s, "Progressing").getMessage()).isEqualTo("all stages succeeded");
      assertCondition(s, "Reconciling", "False", "Completed");
      assertCondition(s, "Stalled", "False", "NotStalled");
      assertCondition(s, "Failed", "False", "NoFailure");
      assertCondition(s, "Valid", "True", "SpecValid");
      assertThat(s.getMessage()).isEqualTo("all stages succeeded");

      OutputStatus out = s.getOutput();
      assertThat(out.getPublishedUri()).isEqualTo(PUBLISHED);
      assertThat(out.getRevision()).isEqualTo("c0ffee");
      assertThat(out.getModelUri()).isEqualTo(MODEL_URI);
      assertThat(s.getTraining().getProgress()).isEqualTo("1000/1000");
      assertThat(s.getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.94);

      assertThat(result.events()).containsExactly(
          Event.normal("PublishSucceeded", "Job mistral-7b-32k-publish completed"),
          Event.normal("Completed", ready));
    }

    @Test
    void completedOnlyOnce() {
      Result first = assemble(MISTRAL, none(), allSucceeded(MISTRAL), progress(null, null, null,
          publishReport(PUBLISHED)), Verdict.clean(), NOW);
      assertThat(first.events()).extracting(Event::reason).containsExactly("FetchSucceeded", "TrainSucceeded",
          "EvaluateSucceeded", "PublishSucceeded", "Completed");

      Result second = assemble(MISTRAL, stored(first.status()), allSucceeded(MISTRAL), LATER);
      assertThat(second.events()).isEmpty();
      assertThat(second.status().getPhase()).isEqualTo(Phase.Succeeded);
      // the Jobs may be cleaned up: still Succeeded, still no events
      Result third = assemble(MISTRAL, stored(second.status()), Map.of(), LATEST);
      assertThat(third.status().getPhase()).isEqualTo(Phase.Succeeded);
      assertThat(third.events()).isEmpty();
      assertThat(third.status().getConditions()).isEqualTo(first.status().getConditions());
      assertThat(third.status().getOutput().getPublishedUri()).isEqualTo(PUBLISHED);
    }

    @Test
    void withoutPublishTheModelUriIsTheResult() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().setEvaluation(null);
      cx.getSpec().setPublish(null);
      Resolved r = Fixtures.resolve(cx);
      TrainReport train = trainReport(1000);
      train.setModelUri(MODEL_URI);
      Result result = assemble(r, none(), jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN)),
          progress(null, train, null, null), Verdict.clean(), NOW);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Succeeded);
      assertThat(s.getStages().getEvaluate().getState()).isEqualTo(StageState.Skipped);
      assertThat(s.getStages().getPublish().getState()).isEqualTo(StageState.Skipped);
      assertThat(condition(s, "Ready").getMessage()).isEqualTo("the extended model is ready: " + MODEL_URI);
      assertThat(result.events()).contains(Event.normal("Completed", "the extended model is ready: " + MODEL_URI));
      assertThat(result.events()).extracting(Event::reason).doesNotContain("EvaluateSucceeded", "PublishSucceeded");
    }
  }

  // ---- suspension ----

  @Nested
  class Suspension {

    @Test
    void suspendedRun() {
      Resolved running = suspendedMistral(false);
      ContextExtensionStatus training = stored(assemble(running, none(), jobs(succeeded(running, Stage.FETCH),
          running(running, Stage.TRAIN)), NOW).status());

      Resolved r = suspendedMistral(true);
      Result result = assemble(r, training, jobs(succeeded(r, Stage.FETCH), suspended(r, Stage.TRAIN)), LATER);
      ContextExtensionStatus s = result.status();
      assertThat(s.getPhase()).isEqualTo(Phase.Suspended);
      assertThat(s.getStages().getTrain().getState()).isEqualTo(StageState.Suspended);
      assertCondition(s, "Suspended", "True", "Suspended");
      assertThat(condition(s, "Suspended").getMessage()).contains("spec.suspend is true");
      assertThat(condition(s, "Suspended").getLastTransitionTime()).isEqualTo(LATER);
      assertCondition(s, "Progressing", "False", "Suspended");
      assertThat(condition(s, "Progressing").getMessage()).isEqualTo("suspended by spec.suspend");
      assertCondition(s, "Reconciling", "False", "Suspended");
      assertCondition(s, "Stalled", "False", "NotStalled");
      assertCondition(s, "Failed", "False", "NoFailure");
      assertThat(result.events()).containsExactly(Event.normal("TrainSuspended", "Job mistral-7b-32k-train suspended"));

      // resumed: the Job runs again
      Result resumed = assemble(running, stored(s), jobs(succeeded(running, Stage.FETCH), running(running, Stage.TRAIN)),
          LATEST);
      assertThat(resumed.status().getPhase()).isEqualTo(Phase.Training);
      assertCondition(resumed.status(), "Suspended", "False", "NotSuspended");
      assertThat(condition(resumed.status(), "Suspended").getLastTransitionTime()).isEqualTo(LATEST);
      assertCondition(resumed.status(), "Progressing", "True", "TrainRunning");
      assertThat(resumed.events()).containsExactly(Event.normal("TrainResumed", "Job mistral-7b-32k-train resumed"));
    }

    @Test
    void suspendedBeforeAnythingStarted() {
      Resolved r = suspendedMistral(true);
      Result result = assemble(r, none(), Map.of(), NOW);
      assertThat(result.status().getPhase()).isEqualTo(Phase.Suspended);
      assertCondition(result.status(), "Suspended", "True", "Suspended");
      assertCondition(result.status(), "Progressing", "False", "Suspended");
      assertThat(result.events()).isEmpty();
    }

    @Test
    void failureWinsOverSuspension() {
      Resolved r = suspendedMistral(true);
      Result result = assemble(r, none(), jobs(failed(r, Stage.FETCH, 1)), NOW);
      assertThat(result.status().getPhase()).isEqualTo(Phase.Failed);
      assertCondition(result.status(), "Suspended", "True", "Suspended");
      assertCondition(result.status(), "Failed", "True", "FetchFailed");
    }
  }

  // ---- nothing changed, nothing said ----

  record Scenario(String name, Resolved r, Map<Stage, Job> jobs, ProgressSnapshot progress, Verdict first,
      Verdict second) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> scenarios() {
    Resolved m = MISTRAL;
    Resolved kueue = Fixtures.resolved("multi-node-kueue.yaml");
    Resolved suspended = suspendedMistral(true);
    Verdict clean = Verdict.clean();
    return Stream.of(
        new Scenario("pending", m, Map.of(), ProgressSnapshot.empty(), clean, clean),
        new Scenario("fetch queued", m, jobs(created(m, Stage.FETCH)), ProgressSnapshot.empty(), clean, clean),
        new Scenario("kueue queued", kueue, jobs(created(kueue, Stage.FETCH)), ProgressSnapshot.empty(), clean, clean),
        new Scenario("training", m, jobs(succeeded(m, Stage.FETCH), running(m, Stage.TRAIN, 2)),
            progress(fetchReport(), trainReport(420), null, null), clean, clean),
        new Scenario("evaluating", m, jobs(succeeded(m, Stage.FETCH), succeeded(m, Stage.TRAIN),
            running(m, Stage.EVALUATE)), progress(null, null, evaluation(0.94), null), clean, clean),
        new Scenario("train failed", m, jobs(succeeded(m, Stage.FETCH), failed(m, Stage.TRAIN, 4)),
            ProgressSnapshot.empty(), failures(Stage.TRAIN, POD_FAILURE), clean),
        new Scenario("invalid", m, Map.of(), ProgressSnapshot.empty(), invalid(INVALID), invalid(INVALID)),
        new Scenario("waiting", m, Map.of(), ProgressSnapshot.empty(), waiting(SECRET_MISSING), waiting(SECRET_MISSING)),
        new Scenario("gate", m, throughEvaluation(m), progress(null, null, evaluation(0.62), null), gate(GATE),
            gate(GATE)),
        new Scenario("suspended", suspended, jobs(succeeded(suspended, Stage.FETCH), suspended(suspended, Stage.TRAIN)),
            ProgressSnapshot.empty(), clean, clean),
        new Scenario("complete", m, allSucceeded(m), progress(null, null, null, publishReport(PUBLISHED)), clean, clean))
        .map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scenarios")
  void noEventsWhenNothingChanged(Scenario sc) {
    Result first = assemble(sc.r(), none(), sc.jobs(), sc.progress(), sc.first(), NOW);
    Result second = assemble(sc.r(), stored(first.status()), sc.jobs(), ProgressSnapshot.empty(), sc.second(), LATER);

    assertThat(second.events()).isEmpty();
    assertThat(second.status().getConditions()).isEqualTo(first.status().getConditions());
    assertThat(second.status().getPhase()).isEqualTo(first.status().getPhase());
    assertThat(second.status().getMessage()).isEqualTo(first.status().getMessage());
    // the whole status, as the API server stores it, is unchanged: no status update is needed
    assertThat(tree(second.status())).isEqualTo(tree(first.status()));
  }

  @Test
  void wholePipelineEvents() {
    Resolved r = MISTRAL;
    List<Map<Stage, Job>> steps = List.of(
        Map.of(),
        jobs(created(r, Stage.FETCH)),
        jobs(running(r, Stage.FETCH)),
        jobs(succeeded(r, Stage.FETCH)),
        jobs(succeeded(r, Stage.FETCH), created(r, Stage.TRAIN)),
        jobs(succeeded(r, Stage.FETCH), running(r, Stage.TRAIN)),
        jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN), running(r, Stage.EVALUATE)),
        jobs(succeeded(r, Stage.FETCH), succeeded(r, Stage.TRAIN), succeeded(r, Stage.EVALUATE),
            running(r, Stage.PUBLISH)),
        allSucceeded(r));
    List<Phase> phases = new java.util.ArrayList<>();
    List<String> reasons = new java.util.ArrayList<>();
    ContextExtensionStatus previous = none();
    for (Map<Stage, Job> jobs : steps) {
      Result result = assemble(r, previous, jobs, NOW);
      phases.add(result.status().getPhase());
      result.events().forEach(e -> reasons.add(e.reason()));
      previous = stored(result.status());
    }
    assertThat(phases).containsExactly(Phase.Pending, Phase.Fetching, Phase.Fetching, Phase.Pending, Phase.Training,
        Phase.Training, Phase.Evaluating, Phase.Publishing, Phase.Succeeded);
    // within one reconciliation, events come in stage order
    assertThat(reasons).containsExactly("FetchStarted", "FetchSucceeded", "TrainStarted", "TrainSucceeded",
        "EvaluateStarted", "EvaluateSucceeded", "PublishStarted", "PublishSucceeded", "Completed");
  }
}
