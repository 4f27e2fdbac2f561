package io.pose.core.rope;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The edges of the RoPE rules that the transformers grid (RopeReferenceTest) does not decide by itself: which
 * longrope factors a sequence length selects, what yarn takes for a factor it is not given, and the bounds of the
 * parameters (the mutants docs/quality.md lists for Rope and RopeParameters).
 */
class RopeEdgesTest {

  private static RopeParameters longrope(double[] shortFactor, double[] longFactor) {
    return RopeParameters.builder(RopeType.LONGROPE, 10_000, 8, 16384).originalMaxPositionEmbeddings(4096)
        .shortFactor(shortFactor).longFactor(longFactor).build();
  }

  @Test
  void longropeTakesTheLongFactorsOnlyBeyondTheOriginalLength() {
    // factors of 1 give the plain frequencies, factors of 2 half of them (exactly: a power of two)
    RopeParameters p = longrope(new double[] {1, 1, 1, 1}, new double[] {2, 2, 2, 2});
    float[] plain = Rope.standard(10_000, 8);
    float[] halved = new float[plain.length];
    for (int i = 0; i < plain.length; i++) {
      halved[i] = plain[i] / 2;
    }
    assertThat(Rope.forSequenceLength(p, 4096).inverseFrequencies()).containsExactly(plain);
    assertThat(Rope.forSequenceLength(p, 4097).inverseFrequencies()).containsExactly(halved);
    assertThat(Rope.frequencies(p, 4096).inverseFrequencies()).containsExactly(plain);
    assertThat(Rope.frequencies(p, 4097).inverseFrequencies()).containsExactly(halved);
    assertThat(Rope.frequencies(p, null).inverseFrequencies()).containsExactly(plain);
    assertThat(Rope.frequencies(p, null).rotaryDim()).isEqualTo(8);
  }

  @Test
  void longropeFactorsMustCoverHalfTheRotaryDimension() {
    RopeParameters p = longrope(new double[] {1, 1, 1}, new double[] {2, 2, 2});
    assertThatThrownBy(() -> Rope.frequencies(p, null)).hasMessage(
        "rope_scaling: longrope factors have 3 entries, the rotary dimension 8 needs 4");
  }

  @Test
  void yarnWithoutAFactorTakesTheRatioOfTheLengthsAsTransformersDoes() {
    RopeParameters.Builder b = RopeParameters.builder(RopeType.YARN, 10_000, 64, 32768)
        .originalMaxPositionEmbeddings(4096);
    RopeFrequencies implied = Rope.frequencies(b.build(), null);
    RopeFrequencies given = Rope.frequencies(b.factor(8.0).build(), null);
    assertThat(implied.inverseFrequencies()).containsExactly(given.inverseFrequencies());
    assertThat(implied.attentionScaling()).isEqualTo(given.attentionScaling());
    assertThat(given.attentionScaling()).isGreaterThan(1f);
  }

  @Test
  void theSmallestValidParametersAreAcceptedAndOneBelowRefused() {
    RopeParameters two = RopeParameters.standard(10_000, 2, 128);
    assertThat(two.rotaryDim()).isEqualTo(2);
    assertThat(Rope.frequencies(two, null).inverseFrequencies()).containsExactly(1f);
    assertThatThrownBy(() -> RopeParameters.standard(10_000, 1, 128)).hasMessage("head_dim: 1 must be at least 2");
    assertThat(RopeParameters.builder(RopeType.DEFAULT, 10_000, 4, 128).partialRotaryFactor(0.5).build().rotaryDim())
        .isEqualTo(2);
    assertThatThrownBy(() -> RopeParameters.builder(RopeType.DEFAULT, 10_000, 4, 128).partialRotaryFactor(0.25)
        .build()).hasMessage("rotary dimension 1 is below 2");
    assertThatThrownBy(() -> RopeParameters.builder(RopeType.DEFAULT, 10_000, 64, 128).partialRotaryFactor(0)
        .build()).hasMessage("partial_rotary_factor: 0.0 must be in (0, 1]");
    assertThatThrownBy(() -> RopeParameters.builder(RopeType.DEFAULT, 10_000, 64, 128).partialRotaryFactor(1.01)
        .build()).hasMessage("partial_rotary_factor: 1.01 must be in (0, 1]");
  }

  @Test
  void toBuilderStartsFromEveryField() {
    RopeParameters p = RopeParameters.builder(RopeType.YARN, 500_000, 64, 8192).partialRotaryFactor(0.5).factor(4.0)
        .originalMaxPositionEmbeddings(2048).attentionFactor(1.2).betaFast(16.0).betaSlow(2.0).mscale(1.5)
        .mscaleAllDim(0.5).truncate(false).lowFreqFactor(1.0).highFreqFactor(4.0).shortFactor(new double[] {1, 2})
        .longFactor(new double[] {3, 4}).build();
    RopeParameters copy = p.toBuilder().build();
    assertThat(copy).usingRecursiveComparison().isEqualTo(p);
    assertThat(p.toBuilder().factor(8.0).build().factor()).isEqualTo(8.0);
  }
}
