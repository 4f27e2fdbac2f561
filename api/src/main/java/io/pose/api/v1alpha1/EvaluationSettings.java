package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** What the Evaluate stage measures. Without any of passkey, perplexity or benchmarks the stage is skipped. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class EvaluationSettings {

  @JsonPropertyDescription("Passkey retrieval (the paper's protocol) at each length.")
  private PasskeyEvaluation passkey;

  @JsonPropertyDescription("Sliding-window perplexity at each length.")
  private PerplexityEvaluation perplexity;

  @Size(max = 32)
  @JsonPropertyDescription("Multiple-choice benchmarks scored by log-likelihood.")
  private List<BenchmarkTask> benchmarks;

  @JsonPropertyDescription("Also evaluate the base model with the same prompts, for a before/after table. Default: true.")
  private Boolean compareWithBase;

  @Min(1)
  @Max(64)
  @JsonPropertyDescription("GPUs of the evaluation pod. Default: " + Defaults.EVALUATION_GPUS + ".")
  private Integer gpus;

  public PasskeyEvaluation getPasskey() { return passkey; }
  public void setPasskey(PasskeyEvaluation passkey) { this.passkey = passkey; }
  public PerplexityEvaluation getPerplexity() { return perplexity; }
  public void setPerplexity(PerplexityEvaluation perplexity) { this.perplexity = perplexity; }
  public List<BenchmarkTask> getBenchmarks() { return benchmarks; }
  public void setBenchmarks(List<BenchmarkTask> benchmarks) { this.benchmarks = benchmarks; }
  public Boolean getCompareWithBase() { return compareWithBase; }
  public void setCompareWithBase(Boolean compareWithBase) { this.compareWithBase = compareWithBase; }
  public Integer getGpus() { return gpus; }
  public void setGpus(Integer gpus) { this.gpus = gpus; }

  /** True when at least one evaluation is configured, i.e. the Evaluate stage runs. */
  public boolean hasAny() {
    return passkey != null || perplexity != null || (benchmarks != null && !benchmarks.isEmpty());
  }
}
