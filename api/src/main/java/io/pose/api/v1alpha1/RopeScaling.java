package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;

/** The RoPE scaling the extended model uses, with Hugging Face semantics (rope_scaling in config.json). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = Rules.YARN_ONLY_CEL, message = Rules.YARN_ONLY_MESSAGE, reason = "FieldValueInvalid")
public class RopeScaling {

  /** RoPE interpolation methods PoSE can train with. */
  public enum Type {
    @JsonProperty("linear") LINEAR,
    @JsonProperty("ntk") NTK,
    @JsonProperty("dynamic") DYNAMIC,
    @JsonProperty("yarn") YARN;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
  }

  @JsonPropertyDescription("linear (position interpolation) | ntk (static NTK-aware) | dynamic (dynamic NTK) | yarn. Default: "
      + Defaults.ROPE_TYPE + ".")
  private Type type;

  @Min(1)
  @Max(1024)
  @JsonPropertyDescription("Scaling factor s >= 1. Default: targetContextLength / originalContextLength.")
  private Double factor;

  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("YaRN: rotations below which dimensions are fully interpolated (beta_fast). Hugging Face default 32.")
  private Double betaFast;

  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("YaRN: rotations above which dimensions keep their frequency (beta_slow). Hugging Face default 1.")
  private Double betaSlow;

  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("YaRN: attention temperature factor; default 0.1 ln(s) + 1.")
  private Double attentionFactor;

  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("YaRN: mscale (DeepSeek-style attention factor, with mscaleAllDim).")
  private Double mscale;

  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("YaRN: mscale_all_dim.")
  private Double mscaleAllDim;

  @JsonPropertyDescription("YaRN: round the correction range to whole dimensions (Hugging Face default true).")
  private Boolean truncate;

  public Type getType() { return type; }
  public void setType(Type type) { this.type = type; }
  public Double getFactor() { return factor; }
  public void setFactor(Double factor) { this.factor = factor; }
  public Double getBetaFast() { return betaFast; }
  public void setBetaFast(Double betaFast) { this.betaFast = betaFast; }
  public Double getBetaSlow() { return betaSlow; }
  public void setBetaSlow(Double betaSlow) { this.betaSlow = betaSlow; }
  public Double getAttentionFactor() { return attentionFactor; }
  public void setAttentionFactor(Double attentionFactor) { this.attentionFactor = attentionFactor; }
  public Double getMscale() { return mscale; }
  public void setMscale(Double mscale) { this.mscale = mscale; }
  public Double getMscaleAllDim() { return mscaleAllDim; }
  public void setMscaleAllDim(Double mscaleAllDim) { this.mscaleAllDim = mscaleAllDim; }
  public Boolean getTruncate() { return truncate; }
  public void setTruncate(Boolean truncate) { this.truncate = truncate; }
}
