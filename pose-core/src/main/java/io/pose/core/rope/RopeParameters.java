package io.pose.core.rope;

import java.util.Objects;

/**
 * Everything that determines a model's rotary embedding, with Hugging Face's meaning for every field.
 *
 * @param type the variant
 * @param theta rope_theta, the base
 * @param headDim the attention head dimension (config.head_dim, else hidden_size / num_attention_heads)
 * @param partialRotaryFactor the fraction of the head dimension that is rotated (1 for Llama and Mistral)
 * @param maxPositionEmbeddings config.max_position_embeddings (dynamic NTK measures growth from it)
 * @param factor the scaling factor s (linear, dynamic, yarn, llama3; optional for longrope and yarn)
 * @param originalMaxPositionEmbeddings the pretraining length (yarn, llama3, longrope)
 * @param attentionFactor explicit attention scaling (yarn, longrope)
 * @param betaFast yarn: rotations that mark the fully interpolated band (default 32)
 * @param betaSlow yarn: rotations that mark the untouched band (default 1)
 * @param mscale yarn: DeepSeek-style attention factor numerator
 * @param mscaleAllDim yarn: DeepSeek-style attention factor denominator
 * @param truncate yarn: round the correction range to whole dimensions (default true)
 * @param lowFreqFactor llama3: low_freq_factor
 * @param highFreqFactor llama3: high_freq_factor
 * @param shortFactor longrope: per-dimension factors up to the original length
 * @param longFactor longrope: per-dimension factors beyond it
 */
public record RopeParameters(RopeType type, double theta, int headDim, double partialRotaryFactor,
    int maxPositionEmbeddings, Double factor, Integer originalMaxPositionEmbeddings, Double attentionFactor,
    Double betaFast, Double betaSlow, Double mscale, Double mscaleAllDim, Boolean truncate, Double lowFreqFactor,
    Double highFreqFactor, double[] shortFactor, double[] longFactor) {

  public RopeParameters {
    Objects.requireNonNull(type, "type");
    if (!(theta > 0)) {
      throw new IllegalArgumentException("rope_theta: " + theta + " must be positive");
    }
    if (headDim < 2) {
      throw new IllegalArgumentException("head_dim: " + headDim + " must be at least 2");
    }
    if (!(partialRotaryFactor > 0 && partialRotaryFactor <= 1)) {
      throw new IllegalArgumentException("partial_rotary_factor: " + partialRotaryFactor + " must be in (0, 1]");
    }
    if (rotaryDim(headDim, partialRotaryFactor) < 2) {
      throw new IllegalArgumentException("rotary dimension " + rotaryDim(headDim, partialRotaryFactor) + " is below 2");
    }
  }

  /** Plain RoPE. */
  public static RopeParameters standard(double theta, int headDim, int maxPositionEmbeddings) {
    return builder(RopeType.DEFAULT, theta, headDim, maxPositionEmbeddings).build();
  }

  /** d: the number of rotated dimensions, int(head_dim * partial_rotary_factor) as in transformers. */
  public int rotaryDim() {
    return rotaryDim(headDim, partialRotaryFactor);
  }

  private static int rotaryDim(int headDim, double partial) {
    return (int) (headDim * partial);
  }

  public static Builder builder(RopeType type, double theta, int headDim, int maxPositionEmbeddings) {
    return new Builder(type, theta, headDim, maxPositionEmbeddings);
  }

  public Builder toBuilder() {
    Builder b = new Builder(type, theta, headDim, maxPositionEmbeddings);
    b.partialRotaryFactor = partialRotaryFactor;
    b.factor = factor;
    b.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings;
    b.attentionFactor = attentionFactor;
    b.betaFast = betaFast;
    b.betaSlow = betaSlow;
    b.mscale = mscale;
    b.mscaleAllDim = mscaleAllDim;
    b.truncate = truncate;
    b.lowFreqFactor = lowFreqFactor;
    b.highFreqFactor = highFreqFactor;
    b.shortFactor = shortFactor;
    b.longFactor = longFactor;
    return b;
  }

  /** Builds parameters field by field; unset optional fields keep Hugging Face's defaults. */
  public static final class Builder {
    private RopeType type;
    private double theta;
    private int headDim;
    private int maxPositionEmbeddings;
    private double partialRotaryFactor = 1.0;
    private Double factor;
    private Integer originalMaxPositionEmbeddings;
    private Double attentionFactor;
    private Double betaFast;
    private Double betaSlow;
    private Double mscale;
    private Double mscaleAllDim;
    private Boolean truncate;
    private Double lowFreqFactor;
    private Double highFreqFactor;
    private double[] shortFactor;
    private double[] longFactor;

    private Builder(RopeType type, double theta, int headDim, int maxPositionEmbeddings) {
      this.type = type;
      this.theta = theta;
      this.headDim = headDim;
      this.maxPositionEmbeddings = maxPositionEmbeddings;
    }

    public Builder type(RopeType v) { type = v; return this; }
    public Builder theta(double v) { theta = v; return this; }
    public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
    public Builder partialRotaryFactor(double v) { partialRotaryFactor = v; return this; }
    public Builder factor(Double v) { factor = v; return this; }
    public Builder originalMaxPositionEmbeddings(Integer v) { originalMaxPositionEmbeddings = v; return this; }
    public Builder attentionFactor(Double v) { attentionFactor = v; return this; }
    public Builder betaFast(Double v) { betaFast = v; return this; }
    public Builder betaSlow(Double v) { betaSlow = v; return this; }
    public Builder mscale(Double v) { mscale = v; return this; }
    public Builder mscaleAllDim(Double v) { mscaleAllDim = v; return this; }
    public Builder truncate(Boolean v) { truncate = v; return this; }
    public Builder lowFreqFactor(Double v) { lowFreqFactor = v; return this; }
    public Builder highFreqFactor(Double v) { highFreqFactor = v; return this; }
    public Builder shortFactor(double[] v) { shortFactor = v; return this; }
    public Builder longFactor(double[] v) { longFactor = v; return this; }

    public RopeParameters build() {
      return new RopeParameters(type, theta, headDim, partialRotaryFactor, maxPositionEmbeddings, factor,
          originalMaxPositionEmbeddings, attentionFactor, betaFast, betaSlow, mscale, mscaleAllDim, truncate,
          lowFreqFactor, highFreqFactor, shortFactor, longFactor);
    }
  }
}
