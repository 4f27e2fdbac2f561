package io.pose.core.rope;

/**
 * The RoPE scaling family with Hugging Face transformers' semantics (modeling_rope_utils.py, v5), computed
 * with the same fp32 arithmetic: the model must be trained with exactly the frequencies that transformers and
 * vLLM will apply to the published config.json. Where transformers computes in Python floats (doubles), so does
 * this class; where it computes in fp32 tensors, this class rounds to float at the same steps.
 */
public final class Rope {
  private Rope() {}

  /**
   * Frequencies as transformers initializes them (the ROPE_INIT_FUNCTIONS entry for the type).
   *
   * @param sequenceLength the current sequence length (dynamic and longrope use it); null at initialization
   */
  public static RopeFrequencies frequencies(RopeParameters p, Integer sequenceLength) {
    return switch (p.type()) {
      case DEFAULT -> new RopeFrequencies(standard(p.theta(), p.rotaryDim()), 1f);
      case LINEAR -> linear(p);
      case DYNAMIC -> dynamic(p, sequenceLength);
      case YARN -> yarn(p);
      case LLAMA3 -> llama3(p);
      case LONGROPE -> longrope(p, sequenceLength);
    };
  }

  /**
   * Frequencies a forward pass uses for these positions: transformers' dynamic_rope_update takes the sequence
   * length as the largest position + 1, so a PoSE sample whose positions reach Lt - 1 uses the frequencies of a
   * sequence of Lt tokens. (transformers also caches the longest length seen for dynamic NTK; this is the
   * stateless value for the call.)
   */
  public static RopeFrequencies forPositions(RopeParameters p, int[] positions) {
    int maxPosition = -1;
    for (int pos : positions) {
      if (pos < 0) {
        throw new IllegalArgumentException("position ids must not be negative, got " + pos);
      }
      maxPosition = Math.max(maxPosition, pos);
    }
    return forSequenceLength(p, maxPosition + 1);
  }

  /** Frequencies for a sequence of this many positions (see {@link #forPositions}). */
  public static RopeFrequencies forSequenceLength(RopeParameters p, int sequenceLength) {
    return switch (p.type()) {
      case DYNAMIC -> sequenceLength > p.maxPositionEmbeddings() ? dynamic(p, sequenceLength) : dynamic(p, null);
      case LONGROPE -> longrope(p, sequenceLength > originalLength(p) ? originalLength(p) + 1 : null);
      default -> frequencies(p, null);
    };
  }

  /**
   * cos and sin for arbitrary position ids, laid out [position][d] with emb = concat(freqs, freqs) as in
   * transformers (half-split rotation): values[k * d + j].
   */
  public static CosSin cosSin(RopeFrequencies f, int[] positions) {
    float[] inv = f.inverseFrequencies();
    int half = inv.length;
    int d = half * 2;
    float[] cos = new float[positions.length * d];
    float[] sin = new float[positions.length * d];
    float scale = f.attentionScaling();
    for (int k = 0; k < positions.length; k++) {
      float pos = (float) positions[k]; // position_ids.float()
      int row = k * d;
      for (int j = 0; j < half; j++) {
        float angle = pos * inv[j]; // an fp32 product, rounded once, as torch computes it
        float c = (float) Math.cos(angle) * scale;
        float s = (float) Math.sin(angle) * scale;
        cos[row + j] = c;
        cos[row + half + j] = c;
        sin[row + j] = s;
        sin[row + half + j] = s;
      }
    }
    return new CosSin(positions.length, d, cos, sin);
  }

  /** cos and sin, row-major [positions, d]. */
  public record CosSin(int positions, int dim, float[] cos, float[] sin) {}

  // ---- the init functions ----

  /** 1 / base^(2i/d) in fp32, as torch computes it from arange(0, d, 2).float() / d. */
  static float[] standard(double base, int dim) {
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      inv[i] = 1f / basePower(base, i, dim);
    }
    return inv;
  }

  /** base ** (2i / d) with an fp32 exponent and an fp32 result. */
  private static float basePower(double base, int i, int dim) {
    float exponent = (float) (2 * i) / (float) dim;
    return (float) Math.pow((float) base, exponent);
  }

  private static RopeFrequencies linear(RopeParameters p) {
    float[] inv = standard(p.theta(), p.rotaryDim());
    float factor = (float) (double) require(p.factor(), "factor", p);
    for (int i = 0; i < inv.length; i++) {
      inv[i] = inv[i] / factor;
    }
    return new RopeFrequencies(inv, 1f);
  }

  private static RopeFrequencies dynamic(RopeParameters p, Integer sequenceLength) {
    int dim = p.rotaryDim();
    double factor = require(p.factor(), "factor", p);
    int max = p.maxPositionEmbeddings();
    double seqLen = sequenceLength == null ? max : Math.max(sequenceLength, max);
    double base = p.theta() * Math.pow((factor * seqLen / max) - (factor - 1), (double) dim / (dim - 2));
    return new RopeFrequencies(standard(base, dim), 1f);
  }

  /** The pretraining length: rope_parameters.original_max_position_embeddings, else max_position_embeddings. */
  static int originalLength(RopeParameters p) {
    return p.originalMaxPositionEmbeddings() != null ? p.originalMaxPositionEmbeddings() : p.maxPositionEmbeddings();
  }

  private static RopeFrequencies yarn(RopeParameters p) {
    int dim = p.rotaryDim();
    double base = p.theta();
    int original = originalLength(p);
    double factor = p.factor() != null ? p.factor() : (double) p.maxPositionEmbeddings() / original;

    double attention;
    if (p.attentionFactor() != null) {
      attention = p.attentionFactor();
    } else if (truthy(p.mscale()) && truthy(p.mscaleAllDim())) {
      attention = mscale(factor, p.mscale()) / mscale(factor, p.mscaleAllDim());
    } else {
      attention = mscale(factor, 1);
    }
    // "or": a zero from the config means the default, as in transformers
    double betaFast = truthy(p.betaFast()) ? p.betaFast() : 32;
    double betaSlow = truthy(p.betaSlow()) ? p.betaSlow() : 1;
    boolean truncate = p.truncate() == null || p.truncate();

    double low = correctionDim(betaFast, dim, base, original);
    double high = correctionDim(betaSlow, dim, base, original);
    if (truncate) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, dim - 1);
    if (low == high) {
      high += 0.001; // transformers: prevent singularity
    }
    float lowF = (float) low;
    float range = (float) (high - low);
    float factorF = (float) factor;

    int half = dim / 2;
    float[] inv = new float[half];
    for (int i = 0; i < half; i++) {
      float posFreq = basePower(base, i, dim);
      float extrapolation = 1f / posFreq;
      float interpolation = 1f / (factorF * posFreq);
      float ramp = Math.min(1f, Math.max(0f, ((float) i - lowF) / range));
      float extrapolationFactor = 1f - ramp;
      inv[i] = interpolation * (1f - extrapolationFactor) + extrapolation * extrapolationFactor;
    }
    return new RopeFrequencies(inv, (float) attention);
  }

  /** YaRN's attention temperature: 0.1 m ln(s) + 1 for s > 1. */
  static double mscale(double scale, double m) {
    return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
  }

  /** The dimension at which a frequency makes this many rotations over the original length. */
  static double correctionDim(double rotations, int dim, double base, int original) {
    return (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  }

  private static RopeFrequencies llama3(RopeParameters p) {
    float[] inv = standard(p.theta(), p.rotaryDim());
    double factor = require(p.factor(), "factor", p);
    double lowFreqFactor = require(p.lowFreqFactor(), "low_freq_factor", p);
    double highFreqFactor = require(p.highFreqFactor(), "high_freq_factor", p);
    int oldContext = require(p.originalMaxPositionEmbeddings(), "original_max_position_embeddings", p);
    float lowFreqWavelen = (float) (oldContext / lowFreqFactor);
    float highFreqWavelen = (float) (oldContext / highFreqFactor);
    float factorF = (float) factor;
    float twoPi = (float) (2 * Math.PI);
    float lowF = (float) lowFreqFactor;
    float span = (float) (highFreqFactor - lowFreqFactor);
    float[] out = new float[inv.length];
    for (int i = 0; i < inv.length; i++) {
      float wavelen = twoPi / inv[i];
      float llama = wavelen > lowFreqWavelen ? inv[i] / factorF : inv[i];
      boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      if (medium) {
        float smooth = ((float) oldContext / wavelen - lowF) / span;
        out[i] = (1f - smooth) * llama / factorF + smooth * llama;
      } else {
        out[i] = llama;
      }
    }
    return new RopeFrequencies(out, 1f);
  }

  private static RopeFrequencies longrope(RopeParameters p, Integer sequenceLength) {
    int dim = p.rotaryDim();
    int original = require(p.originalMaxPositionEmbeddings(), "original_max_position_embeddings", p);
    double factor = p.factor() != null ? p.factor() : (double) p.maxPositionEmbeddings() / original;
    double attention;
    if (p.attentionFactor() != null) {
      attention = p.attentionFactor();
    } else if (factor <= 1.0) {
      attention = 1.0;
    } else {
      attention = Math.sqrt(1 + Math.log(factor) / Math.log(original));
    }
    double[] ext = sequenceLength != null && sequenceLength > original
        ? require(p.longFactor(), "long_factor", p) : require(p.shortFactor(), "short_factor", p);
    if (ext.length != dim / 2) {
      throw new IllegalArgumentException("rope_scaling: longrope factors have " + ext.length + " entries, the rotary "
          + "dimension " + dim + " needs " + dim / 2);
    }
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      inv[i] = 1f / ((float) ext[i] * basePower(p.theta(), i, dim));
    }
    return new RopeFrequencies(inv, (float) attention);
  }

  private static boolean truthy(Double v) {
    return v != null && v != 0.0;
  }

  private static <T> T require(T value, String name, RopeParameters p) {
    if (value == null) {
      throw new IllegalArgumentException("rope_scaling: " + p.type().wireName() + " needs " + name);
    }
    return value;
  }
}
