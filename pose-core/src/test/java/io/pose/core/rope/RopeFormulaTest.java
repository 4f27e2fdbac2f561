package io.pose.core.rope;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import org.junit.jupiter.api.Test;

/** The check values of shared/REFERENCE.md section 2, and behaviour at the edges. */
class RopeFormulaTest {

  @Test
  void yarnCorrectionRangesMatchTheReferenceCheckValues() {
    int[][] cases = {{2048, 16, 41}, {4096, 20, 46}, {8192, 25, 50}};
    for (int[] c : cases) {
      assertThat(Math.floor(Rope.correctionDim(32, 128, 1e4, c[0]))).as("low for %d", c[0]).isEqualTo(c[1]);
      assertThat(Math.ceil(Rope.correctionDim(1, 128, 1e4, c[0]))).as("high for %d", c[0]).isEqualTo(c[2]);
    }
    assertThat(Math.floor(Rope.correctionDim(32, 128, 1e6, 32768))).isEqualTo(23);
    assertThat(Math.ceil(Rope.correctionDim(1, 128, 1e6, 32768))).isEqualTo(40);
  }

  @Test
  void yarnAttentionTemperatureMatchesTheReferenceCheckValues() {
    double[][] values = {{2, 1.069315}, {4, 1.138629}, {8, 1.207944}, {16, 1.277259}, {64, 1.415888}};
    for (double[] v : values) {
      assertThat(Rope.mscale(v[0], 1)).isCloseTo(v[1], offset(1e-6));
    }
    assertThat(Rope.mscale(1, 1)).isEqualTo(1.0);
    assertThat(Rope.mscale(0.5, 1)).isEqualTo(1.0);
  }

  @Test
  void yarnKeepsHighFrequenciesAndInterpolatesLowOnes() {
    RopeParameters p = RopeParameters.builder(RopeType.YARN, 1e4, 128, 32768).factor(4.0)
        .originalMaxPositionEmbeddings(8192).build();
    float[] yarn = Rope.frequencies(p, null).inverseFrequencies();
    float[] plain = Rope.standard(1e4, 128);
    assertThat(yarn[0]).as("dimension below low=25: extrapolated").isEqualTo(plain[0]);
    assertThat(yarn[24]).isEqualTo(plain[24]);
    assertThat((double) yarn[63]).as("dimension above high=50: interpolated by the factor")
        .isCloseTo(plain[63] / 4.0, offset(plain[63] * 1e-6));
  }

  @Test
  void dynamicNtkOnlyScalesBeyondMaxPositionEmbeddings() {
    RopeParameters p = RopeParameters.builder(RopeType.DYNAMIC, 1e4, 128, 8192).factor(4.0).build();
    assertThat(Rope.forSequenceLength(p, 8192).inverseFrequencies()).isEqualTo(Rope.standard(1e4, 128));
    float[] scaled = Rope.forPositions(p, new int[] {0, 5, 32767}).inverseFrequencies();
    assertThat(scaled[10]).as("a PoSE sample reaching position 32767 uses the 32768-token base").isLessThan(
        Rope.standard(1e4, 128)[10]);
    assertThat(scaled).isEqualTo(Rope.frequencies(p, 32768).inverseFrequencies());
  }

  @Test
  void missingParametersAreNamed() {
    RopeParameters p = RopeParameters.builder(RopeType.LLAMA3, 5e5, 128, 131072).factor(8.0).build();
    assertThatThrownBy(() -> Rope.frequencies(p, null)).hasMessage("rope_scaling: llama3 needs low_freq_factor");
    assertThatThrownBy(() -> RopeParameters.standard(0, 128, 4096)).hasMessage("rope_theta: 0.0 must be positive");
    assertThatThrownBy(() -> Rope.forPositions(RopeParameters.standard(1e4, 8, 16), new int[] {-1}))
        .hasMessageContaining("must not be negative");
  }

  @Test
  void cosSinHandlesArbitraryPositionIds() {
    Rope.CosSin cs = Rope.cosSin(Rope.frequencies(RopeParameters.standard(1e4, 4, 64), null), new int[] {0, 3, 100000});
    assertThat(cs.cos()[0]).isEqualTo(1f);
    assertThat(cs.sin()[0]).isEqualTo(0f);
    assertThat(cs.cos()[4]).isCloseTo((float) Math.cos(3), offset(1e-6f));
    assertThat(cs.positions()).isEqualTo(3);
  }
}
