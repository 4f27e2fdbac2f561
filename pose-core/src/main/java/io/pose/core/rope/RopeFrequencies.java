package io.pose.core.rope;

/**
 * Inverse frequencies (d/2 values, fp32) and the attention scaling applied to cos and sin.
 *
 * @param inverseFrequencies inv_i for i = 0 .. d/2 - 1
 * @param attentionScaling multiplies cos and sin (1 except for yarn and longrope)
 */
public record RopeFrequencies(float[] inverseFrequencies, float attentionScaling) {

  public int rotaryDim() {
    return inverseFrequencies.length * 2;
  }
}
