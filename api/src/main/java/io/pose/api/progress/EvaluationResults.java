package io.pose.api.progress;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Evaluation results: what {@code pose eval} writes (results JSON and progress ConfigMap) and what the
 * operator copies into {@code status.evaluation}. Lists grow as lengths finish.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"passkeyAccuracyAtTarget", "passkey", "perplexity", "benchmarks", "completed", "updatedAt"})
public class EvaluationResults {
  /**
   * Set by {@link ProgressProtocol#write} (no default: the same class is status, where it stays absent, and a
   * default would make a status read back from the API server differ from the one written).
   */
  private Integer schemaVersion;
  /** Passkey accuracy at spec.targetContextLength, once measured (the printer column and the quality gate). */
  private Double passkeyAccuracyAtTarget;
  private List<PasskeyResult> passkey = new ArrayList<>();
  private List<PerplexityResult> perplexity = new ArrayList<>();
  private List<BenchmarkResult> benchmarks = new ArrayList<>();
  /** True once every configured evaluation finished. */
  private Boolean completed;
  private String updatedAt;

  public Integer getSchemaVersion() { return schemaVersion; }
  public void setSchemaVersion(Integer schemaVersion) { this.schemaVersion = schemaVersion; }
  public Double getPasskeyAccuracyAtTarget() { return passkeyAccuracyAtTarget; }
  public void setPasskeyAccuracyAtTarget(Double passkeyAccuracyAtTarget) { this.passkeyAccuracyAtTarget = passkeyAccuracyAtTarget; }
  public List<PasskeyResult> getPasskey() { return passkey; }
  public void setPasskey(List<PasskeyResult> passkey) { this.passkey = passkey; }
  public List<PerplexityResult> getPerplexity() { return perplexity; }
  public void setPerplexity(List<PerplexityResult> perplexity) { this.perplexity = perplexity; }
  public List<BenchmarkResult> getBenchmarks() { return benchmarks; }
  public void setBenchmarks(List<BenchmarkResult> benchmarks) { this.benchmarks = benchmarks; }
  public Boolean getCompleted() { return completed; }
  public void setCompleted(Boolean completed) { this.completed = completed; }
  public String getUpdatedAt() { return updatedAt; }
  public void setUpdatedAt(String updatedAt) { this.updatedAt = updatedAt; }

  /** Passkey accuracy measured at exactly this length, if any. */
  public java.util.Optional<Double> passkeyAccuracyAt(int length) {
    if (passkey == null) {
      return java.util.Optional.empty();
    }
    return passkey.stream().filter(p -> p.getLength() != null && p.getLength() == length)
        .map(PasskeyResult::getAccuracy).filter(java.util.Objects::nonNull).findFirst();
  }

  /** Passkey retrieval accuracy at one prompt length. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PasskeyResult {
    private Integer length;
    private Integer trials;
    private Double accuracy;
    private Double baseAccuracy;

    public PasskeyResult() {}

    public PasskeyResult(int length, int trials, double accuracy, Double baseAccuracy) {
      this.length = length;
      this.trials = trials;
      this.accuracy = accuracy;
      this.baseAccuracy = baseAccuracy;
    }

    public Integer getLength() { return length; }
    public void setLength(Integer length) { this.length = length; }
    public Integer getTrials() { return trials; }
    public void setTrials(Integer trials) { this.trials = trials; }
    public Double getAccuracy() { return accuracy; }
    public void setAccuracy(Double accuracy) { this.accuracy = accuracy; }
    public Double getBaseAccuracy() { return baseAccuracy; }
    public void setBaseAccuracy(Double baseAccuracy) { this.baseAccuracy = baseAccuracy; }
  }

  /** Perplexity at one window length. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PerplexityResult {
    private Integer length;
    private Integer documents;
    private Double perplexity;
    private Double basePerplexity;

    public PerplexityResult() {}

    public PerplexityResult(int length, int documents, double perplexity, Double basePerplexity) {
      this.length = length;
      this.documents = documents;
      this.perplexity = perplexity;
      this.basePerplexity = basePerplexity;
    }

    public Integer getLength() { return length; }
    public void setLength(Integer length) { this.length = length; }
    public Integer getDocuments() { return documents; }
    public void setDocuments(Integer documents) { this.documents = documents; }
    public Double getPerplexity() { return perplexity; }
    public void setPerplexity(Double perplexity) { this.perplexity = perplexity; }
    public Double getBasePerplexity() { return basePerplexity; }
    public void setBasePerplexity(Double basePerplexity) { this.basePerplexity = basePerplexity; }
  }

  /** Accuracy on one multiple-choice benchmark. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class BenchmarkResult {
    private String name;
    private Integer shots;
    private Integer examples;
    private Double accuracy;
    private Double accuracyNorm;
    private Double baseAccuracy;
    private Double baseAccuracyNorm;

    public String getName() { return name; }
    public void setName(String name) { this.name = name; }
    public Integer getShots() { return shots; }
    public void setShots(Integer shots) { this.shots = shots; }
    public Integer getExamples() { return examples; }
    public void setExamples(Integer examples) { this.examples = examples; }
    public Double getAccuracy() { return accuracy; }
    public void setAccuracy(Double accuracy) { this.accuracy = accuracy; }
    public Double getAccuracyNorm() { return accuracyNorm; }
    public void setAccuracyNorm(Double accuracyNorm) { this.accuracyNorm = accuracyNorm; }
    public Double getBaseAccuracy() { return baseAccuracy; }
    public void setBaseAccuracy(Double baseAccuracy) { this.baseAccuracy = baseAccuracy; }
    public Double getBaseAccuracyNorm() { return baseAccuracyNorm; }
    public void setBaseAccuracyNorm(Double baseAccuracyNorm) { this.baseAccuracyNorm = baseAccuracyNorm; }
  }
}
