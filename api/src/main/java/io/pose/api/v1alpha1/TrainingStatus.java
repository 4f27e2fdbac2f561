package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** Training progress, copied from the trainer's reports. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"progress", "step", "totalSteps", "loss", "learningRate", "tokensPerSecond", "etaSeconds",
    "lastCheckpointStep", "restarts", "updatedAt"})
public class TrainingStatus {
  /** "step/totalSteps", for the printer column. */
  private String progress;
  private Integer step;
  private Integer totalSteps;
  private Double loss;
  private Double learningRate;
  private Double tokensPerSecond;
  private Long etaSeconds;
  private Integer lastCheckpointStep;
  /** Training pods that failed and were retried (disruptions such as preemption are not counted). */
  private Integer restarts;
  private String updatedAt;

  public String getProgress() { return progress; }
  public void setProgress(String progress) { this.progress = progress; }
  public Integer getStep() { return step; }
  public void setStep(Integer step) { this.step = step; }
  public Integer getTotalSteps() { return totalSteps; }
  public void setTotalSteps(Integer totalSteps) { this.totalSteps = totalSteps; }
  public Double getLoss() { return loss; }
  public void setLoss(Double loss) { this.loss = loss; }
  public Double getLearningRate() { return learningRate; }
  public void setLearningRate(Double learningRate) { this.learningRate = learningRate; }
  public Double getTokensPerSecond() { return tokensPerSecond; }
  public void setTokensPerSecond(Double tokensPerSecond) { this.tokensPerSecond = tokensPerSecond; }
  public Long getEtaSeconds() { return etaSeconds; }
  public void setEtaSeconds(Long etaSeconds) { this.etaSeconds = etaSeconds; }
  public Integer getLastCheckpointStep() { return lastCheckpointStep; }
  public void setLastCheckpointStep(Integer lastCheckpointStep) { this.lastCheckpointStep = lastCheckpointStep; }
  public Integer getRestarts() { return restarts; }
  public void setRestarts(Integer restarts) { this.restarts = restarts; }
  public String getUpdatedAt() { return updatedAt; }
  public void setUpdatedAt(String updatedAt) { this.updatedAt = updatedAt; }
}
