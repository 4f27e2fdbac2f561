package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.fabric8.kubernetes.api.model.Condition;
import io.pose.api.progress.EvaluationResults;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Observed state: phase, standard conditions, per-stage Jobs, and what the stage pods reported. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"phase", "observedGeneration", "message", "conditions", "stages", "model", "training", "evaluation",
    "output", "retry", "specFingerprint"})
public class ContextExtensionStatus {
  private Phase phase;
  private Long observedGeneration;
  /** One line on what is happening or what went wrong. */
  private String message;
  private List<Condition> conditions = new ArrayList<>();
  private StagesStatus stages;
  private ModelStatus model;
  private TrainingStatus training;
  private EvaluationResults evaluation;
  private OutputStatus output;
  /** The last retry asked for with the pose.io/retry annotation. */
  private RetryStatus retry;
  /** Digests of the immutable spec fields accepted when the run started (detects changes without CEL). */
  private String specFingerprint;

  public Phase getPhase() { return phase; }
  public void setPhase(Phase phase) { this.phase = phase; }
  public Long getObservedGeneration() { return observedGeneration; }
  public void setObservedGeneration(Long observedGeneration) { this.observedGeneration = observedGeneration; }
  public String getMessage() { return message; }
  public void setMessage(String message) { this.message = message; }
  public List<Condition> getConditions() { return conditions; }
  public void setConditions(List<Condition> conditions) { this.conditions = conditions; }
  public StagesStatus getStages() { return stages; }
  public void setStages(StagesStatus stages) { this.stages = stages; }
  public ModelStatus getModel() { return model; }
  public void setModel(ModelStatus model) { this.model = model; }
  public TrainingStatus getTraining() { return training; }
  public void setTraining(TrainingStatus training) { this.training = training; }
  public EvaluationResults getEvaluation() { return evaluation; }
  public void setEvaluation(EvaluationResults evaluation) { this.evaluation = evaluation; }
  public OutputStatus getOutput() { return output; }
  public void setOutput(OutputStatus output) { this.output = output; }
  public RetryStatus getRetry() { return retry; }
  public void setRetry(RetryStatus retry) { this.retry = retry; }
  public String getSpecFingerprint() { return specFingerprint; }
  public void setSpecFingerprint(String specFingerprint) { this.specFingerprint = specFingerprint; }

  /** The condition of this type, if present. */
  public Optional<Condition> condition(String type) {
    return conditions == null ? Optional.empty()
        : conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  /** True when the condition of this type has status "True". */
  @JsonIgnore
  public boolean isTrue(String type) {
    return condition(type).map(c -> "True".equals(c.getStatus())).orElse(false);
  }
}
