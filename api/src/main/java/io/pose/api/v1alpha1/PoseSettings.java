package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;

/** PoSE sampling parameters (arXiv 2309.10400): training window Lc and number of chunks N. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = Rules.CHUNKS_WITHIN_WINDOW_CEL, message = Rules.CHUNKS_WITHIN_WINDOW_MESSAGE, fieldPath = ".chunks", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.CHUNKS_ONLY_POSE_CEL, message = Rules.CHUNKS_ONLY_POSE_MESSAGE, fieldPath = ".chunks", reason = "FieldValueInvalid")
public class PoseSettings {

  /** How position ids are assigned: PoSE, or one of the paper's two baselines. */
  public enum Method {
    /** Chunks with random skips (the default and the point of this project). */
    @JsonProperty("pose") POSE,
    /** Baseline: Lc sorted distinct positions drawn from [0, Lt). */
    @JsonProperty("randpos") RANDPOS,
    /** Baseline: full-length fine-tuning, samples of Lt tokens with positions 0..Lt-1. */
    @JsonProperty("full") FULL;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
  }

  @JsonPropertyDescription("pose | randpos | full (the paper's baselines, for comparison). Default: pose.")
  private Method method;

  @Min(Rules.MIN_CONTEXT_LENGTH)
  @Max(Rules.MAX_CONTEXT_LENGTH)
  @JsonPropertyDescription("Training window Lc: tokens per sample. Default: the original context length.")
  private Integer trainingWindow;

  @Min(1)
  @Max(Rules.MAX_CONTEXT_LENGTH)
  @JsonPropertyDescription("Number of chunks N, in [1, trainingWindow]. Default: " + Defaults.POSE_CHUNKS
      + " (N = 1 fails beyond Lc; 2 and 3 work best).")
  private Integer chunks;

  @JsonPropertyDescription("Seed of the position and text-offset draws; a resumed run draws the same samples. Default: "
      + Defaults.POSE_SEED + ".")
  private Long seed;

  public Method getMethod() { return method; }
  public void setMethod(Method method) { this.method = method; }
  public Integer getTrainingWindow() { return trainingWindow; }
  public void setTrainingWindow(Integer trainingWindow) { this.trainingWindow = trainingWindow; }
  public Integer getChunks() { return chunks; }
  public void setChunks(Integer chunks) { this.chunks = chunks; }
  public Long getSeed() { return seed; }
  public void setSeed(Long seed) { this.seed = seed; }
}
