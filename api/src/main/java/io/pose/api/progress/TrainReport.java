package io.pose.api.progress;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What the Train stage reports, at most every few seconds and at every checkpoint. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TrainReport {
  private Integer schemaVersion = ProgressProtocol.SCHEMA_VERSION;
  private Integer step;
  private Integer totalSteps;
  private Double loss;
  private Double learningRate;
  private Double tokensPerSecond;
  private Long etaSeconds;
  private Integer lastCheckpointStep;
  /** Where the extended model is written once training completes (pvc://claim/path). */
  private String modelUri;
  private String updatedAt;

  public Integer getSchemaVersion() { return schemaVersion; }
  public void setSchemaVersion(Integer schemaVersion) { this.schemaVersion = schemaVersion; }
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
  public String getModelUri() { return modelUri; }
  public void setModelUri(String modelUri) { this.modelUri = modelUri; }
  public String getUpdatedAt() { return updatedAt; }
  public void setUpdatedAt(String updatedAt) { this.updatedAt = updatedAt; }
}
