package io.pose.operator.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.ModelStatus;
import io.pose.api.v1alpha1.OutputStatus;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StageStatus;
import io.pose.api.v1alpha1.StagesStatus;
import io.pose.api.v1alpha1.TrainingStatus;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.ProgressSnapshot;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Builds the new status from the previous one, the assessed stages, the stage pods' reports and the
 * reconciler's verdict; also lists the Kubernetes Events the change deserves. A pure function.
 */
public final class StatusAssembler {
  private StatusAssembler() {}

  /** Copies parts of the previous status, which this function never modifies. */
  private static final com.fasterxml.jackson.databind.ObjectMapper COPY = new com.fasterxml.jackson.databind.ObjectMapper();

  /** An event to record on the resource. */
  public record Event(String type, String reason, String message) {
    public static Event normal(String reason, String message) {
      return new Event("Normal", reason, message);
    }

    public static Event warning(String reason, String message) {
      return new Event("Warning", reason, message);
    }
  }

  /** The new status and the events that describe how it differs from the previous one. */
  public record Result(ContextExtensionStatus status, List<Event> events) {}

  public static Result assemble(Resolved r, ContextExtensionStatus previous, Assessment a, ProgressSnapshot progress,
      Verdict verdict, String specFingerprint, String now) {
    ContextExtensionStatus s = new ContextExtensionStatus();
    Long generation = r.resource().getMetadata().getGeneration();
    s.setObservedGeneration(generation);
    s.setSpecFingerprint(specFingerprint);
    s.setConditions(previous.getConditions());
    copyProgress(r, previous, a, progress, s);

    StagesStatus stages = new StagesStatus();
    a.stages().forEach((stage, observed) -> {
      StageStatus st = COPY.convertValue(observed, StageStatus.class);
      Problem failure = verdict.failures().get(stage);
      if (failure != null && st.getState() == StageState.Failed) {
        st.setMessage(failure.message());
      }
      stages.set(stage, st);
    });
    s.setStages(stages);

    Optional<Problem> failure = a.failed().map(stage -> new Problem(
        stage.title() + "Failed",
        stage.title() + " failed: " + Optional.ofNullable(stages.get(stage).getMessage()).orElse("the Job failed")))
        .or(verdict::gate)
        .or(() -> a.active().isEmpty() ? verdict.invalid() : Optional.empty());
    boolean suspended = r.spec().suspended();
    Phase phase;
    if (failure.isPresent()) {
      phase = Phase.Failed;
    } else if (a.complete()) {
      phase = Phase.Succeeded;
    } else if (suspended) {
      phase = Phase.Suspended;
    } else if (a.active().isPresent()) {
      phase = a.active().get().phase();
    } else {
      phase = Phase.Pending;
    }
    s.setPhase(phase);

    List<Condition> c = s.getConditions();
    c = Conditions.set(c, Conditions.VALID, verdict.invalid().isEmpty(),
        verdict.invalid().map(Problem::reason).orElse("SpecValid"),
        verdict.invalid().map(Problem::message).orElse("the spec is valid"), generation, now);
    c = Conditions.set(c, Conditions.SUSPENDED, suspended, suspended ? "Suspended" : "NotSuspended",
        suspended ? "spec.suspend is true: running pods are stopped; the run continues when it is set to false" : "",
        generation, now);

    String progressReason;
    String progressMessage;
    boolean progressing = false;
    if (failure.isPresent()) {
      progressReason = failure.get().reason();
      progressMessage = failure.get().message();
    } else if (a.complete()) {
      progressReason = "Completed";
      progressMessage = "all stages succeeded";
    } else if (suspended) {
      progressReason = "Suspended";
      progressMessage = "suspended by spec.suspend";
    } else if (a.active().isPresent()) {
      Stage stage = a.active().get();
      StageState state = a.state(stage);
      progressing = true;
      progressReason = stage.title() + state.name();
      progressMessage = describe(stage, state, s);
    } else if (verdict.waiting().isPresent()) {
      progressReason = verdict.waiting().get().reason();
      progressMessage = verdict.waiting().get().message();
    } else {
      progressing = true;
      progressReason = "Pending";
      progressMessage = a.next().map(st -> st.title() + " is about to start").orElse("waiting");
    }
    boolean stalled = failure.isPresent() || (!progressing && verdict.waiting().isPresent());
    c = Conditions.set(c, Conditions.PROGRESSING, progressing, progressReason, progressMessage, generation, now);
    c = Conditions.set(c, Conditions.SUCCEEDED, a.complete(), a.complete() ? "Completed" : progressReason,
        a.complete() ? "the extended model is ready" + publishedSuffix(s) : progressMessage, generation, now);
    c = Conditions.set(c, Conditions.FAILED, failure.isPresent(), failure.map(Problem::reason).orElse("NoFailure"),
        failure.map(Problem::message).orElse(""), generation, now);
    c = Conditions.set(c, Conditions.READY, a.complete(), a.complete() ? "Completed" : "NotReady",
        a.complete() ? "the extended model is ready" + publishedSuffix(s) : progressMessage, generation, now);
    c = Conditions.set(c, Conditions.RECONCILING, progressing, progressReason, progressing ? progressMessage : "",
        generation, now);
    c = Conditions.set(c, Conditions.STALLED, stalled, stalled ? progressReason : "NotStalled",
        stalled ? progressMessage : "", generation, now);
    s.setConditions(c);
    s.setMessage(progressMessage);
    return new Result(s, events(previous, s, verdict));
  }

  private static String publishedSuffix(ContextExtensionStatus s) {
    if (s.getOutput() == null) {
      return "";
    }
    if (s.getOutput().getPublishedUri() != null) {
      return ": " + s.getOutput().getPublishedUri();
    }
    return s.getOutput().getModelUri() != null ? ": " + s.getOutput().getModelUri() : "";
  }

  private static String describe(Stage stage, StageState state, ContextExtensionStatus s) {
    if (state == StageState.Queued) {
      return stage.title() + " is queued: its Job waits for admission or for its pods to be scheduled";
    }
    if (stage == Stage.TRAIN && s.getTraining() != null && s.getTraining().getStep() != null) {
      TrainingStatus t = s.getTraining();
      StringBuilder sb = new StringBuilder("Train is running: step ").append(t.getProgress());
      if (t.getLoss() != null) {
        sb.append(", loss ").append(String.format(java.util.Locale.ROOT, "%.4g", t.getLoss()));
      }
      if (t.getTokensPerSecond() != null) {
        sb.append(", ").append(Math.round(t.getTokensPerSecond())).append(" tokens/s");
      }
      if (t.getEtaSeconds() != null) {
        sb.append(", ETA ").append(java.time.Duration.ofSeconds(t.getEtaSeconds()).toString().substring(2).toLowerCase());
      }
      return sb.toString();
    }
    return stage.title() + " is " + state.name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Copies what the stage pods reported; what is not reported (yet, or any more) keeps its previous value. */
  private static void copyProgress(Resolved r, ContextExtensionStatus previous, Assessment a, ProgressSnapshot p,
      ContextExtensionStatus s) {
    ModelStatus model = previous.getModel() == null ? null : COPY.convertValue(previous.getModel(), ModelStatus.class);
    if (p.fetch().isPresent()) {
      FetchReport f = p.fetch().get();
      model = new ModelStatus();
      model.setOriginalContextLength(f.getOriginalContextLength());
      model.setRevision(f.getModelRevision());
      model.setArchitecture(f.getArchitecture());
      model.setUri(f.getModelUri());
    }
    s.setModel(model);

    TrainingStatus training = previous.getTraining() == null ? null : COPY.convertValue(previous.getTraining(),
        TrainingStatus.class);
    if (p.train().isPresent()) {
      TrainReport t = p.train().get();
      training = new TrainingStatus();
      training.setStep(t.getStep());
      training.setTotalSteps(t.getTotalSteps() != null ? t.getTotalSteps() : r.spec().getTraining().getSteps());
      training.setLoss(t.getLoss());
      training.setLearningRate(t.getLearningRate());
      training.setTokensPerSecond(t.getTokensPerSecond());
      training.setEtaSeconds(t.getEtaSeconds());
      training.setLastCheckpointStep(t.getLastCheckpointStep());
      training.setUpdatedAt(t.getUpdatedAt());
    }
    Integer failedTrainingPods = a.stages().get(Stage.TRAIN).getFailedPods();
    if (failedTrainingPods != null) {
      if (training == null) {
        training = new TrainingStatus();
      }
      training.setRestarts(failedTrainingPods);
    }
    if (training != null && training.getStep() != null) {
      training.setProgress(training.getStep() + "/" + (training.getTotalSteps() == null ? "?" : training.getTotalSteps()));
    }
    s.setTraining(training);

    EvaluationResults evaluation = previous.getEvaluation() == null ? null : COPY.convertValue(previous.getEvaluation(),
        EvaluationResults.class);
    if (p.evaluation().isPresent()) {
      evaluation = p.evaluation().get();
    }
    if (evaluation != null) {
      evaluation.setSchemaVersion(null); // a protocol field, not status
      evaluation.setPasskeyAccuracyAtTarget(evaluation.passkeyAccuracyAt(r.spec().getTargetContextLength()).orElse(null));
    }
    s.setEvaluation(evaluation);

    OutputStatus output = previous.getOutput() == null ? null : copy(previous.getOutput());
    if (p.train().isPresent() && p.train().get().getModelUri() != null) {
      output = output == null ? new OutputStatus() : output;
      output.setModelUri(p.train().get().getModelUri());
    }
    if (p.publish().isPresent()) {
      PublishReport pub = p.publish().get();
      output = output == null ? new OutputStatus() : output;
      output.setPublishedUri(pub.getPublishedUri());
      output.setRevision(pub.getRevision());
    }
    s.setOutput(output);
  }

  private static OutputStatus copy(OutputStatus o) {
    OutputStatus c = new OutputStatus();
    c.setModelUri(o.getModelUri());
    c.setPublishedUri(o.getPublishedUri());
    c.setRevision(o.getRevision());
    return c;
  }

  private static List<Event> events(ContextExtensionStatus previous, ContextExtensionStatus next, Verdict verdict) {
    List<Event> events = new ArrayList<>();
    boolean wasValid = previous.condition(Conditions.VALID).map(c -> "True".equals(c.getStatus())).orElse(true);
    if (verdict.invalid().isPresent() && (wasValid || !sameMessage(previous, Conditions.VALID, verdict.invalid().get()))) {
      events.add(Event.warning(verdict.invalid().get().reason(), verdict.invalid().get().message()));
    }
    for (Stage stage : Stage.values()) {
      StageState before = previous.getStages() == null ? StageState.Pending : previous.getStages().stateOf(stage);
      StageStatus now = next.getStages().get(stage);
      StageState after = now.getState();
      if (before == after) {
        continue;
      }
      switch (after) {
        case Queued, Running -> {
          if (before == StageState.Pending) {
            events.add(Event.normal(stage.title() + "Started", "created Job " + now.getJobName()));
          } else if (before == StageState.Suspended) {
            events.add(Event.normal(stage.title() + "Resumed", "Job " + now.getJobName() + " resumed"));
          }
        }
        case Suspended -> events.add(Event.normal(stage.title() + "Suspended", "Job " + now.getJobName() + " suspended"));
        case Succeeded -> events.add(Event.normal(stage.title() + "Succeeded", "Job " + now.getJobName() + " completed"));
        case Failed -> events.add(Event.warning(stage.title() + "Failed", stage.title() + " failed: "
            + Optional.ofNullable(now.getMessage()).orElse("the Job failed")));
        default -> { }
      }
    }
    if (verdict.gate().isPresent() && !previous.isTrue(Conditions.FAILED)) {
      events.add(Event.warning(verdict.gate().get().reason(), verdict.gate().get().message()));
    }
    if (verdict.waiting().isPresent() && !sameMessage(previous, Conditions.PROGRESSING, verdict.waiting().get())) {
      events.add(Event.warning(verdict.waiting().get().reason(), verdict.waiting().get().message()));
    }
    if (next.getPhase() == Phase.Succeeded && previous.getPhase() != Phase.Succeeded) {
      events.add(Event.normal("Completed", "the extended model is ready" + publishedSuffix(next)));
    }
    return events;
  }

  private static boolean sameMessage(ContextExtensionStatus previous, String type, Problem problem) {
    return previous.condition(type).map(c -> problem.message().equals(c.getMessage())).orElse(false);
  }
}
