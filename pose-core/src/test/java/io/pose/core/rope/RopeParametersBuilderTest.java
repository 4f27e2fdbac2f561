package io.pose.core.rope;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The builder sets every field it names, and chains: each setter returns the builder it was called on. */
class RopeParametersBuilderTest {

  @Test
  void everySetterSetsItsFieldAndChains() {
    RopeParameters p = RopeParameters.builder(RopeType.DEFAULT, 10_000, 64, 2048)
        .type(RopeType.YARN).theta(500_000).maxPositionEmbeddings(8192).partialRotaryFactor(0.5).factor(4.0)
        .originalMaxPositionEmbeddings(2048).attentionFactor(1.2).betaFast(16.0).betaSlow(2.0).mscale(1.5)
        .mscaleAllDim(0.5).truncate(false).lowFreqFactor(1.0).highFreqFactor(4.0).shortFactor(new double[] {1, 2})
        .longFactor(new double[] {3, 4}).build();
    assertThat(p.type()).isEqualTo(RopeType.YARN);
    assertThat(p.theta()).isEqualTo(500_000);
    assertThat(p.headDim()).isEqualTo(64);
    assertThat(p.maxPositionEmbeddings()).isEqualTo(8192);
    assertThat(p.partialRotaryFactor()).isEqualTo(0.5);
    assertThat(p.factor()).isEqualTo(4.0);
    assertThat(p.originalMaxPositionEmbeddings()).isEqualTo(2048);
    assertThat(p.attentionFactor()).isEqualTo(1.2);
    assertThat(p.betaFast()).isEqualTo(16.0);
    assertThat(p.betaSlow()).isEqualTo(2.0);
    assertThat(p.mscale()).isEqualTo(1.5);
    assertThat(p.mscaleAllDim()).isEqualTo(0.5);
    assertThat(p.truncate()).isFalse();
    assertThat(p.lowFreqFactor()).isEqualTo(1.0);
    assertThat(p.highFreqFactor()).isEqualTo(4.0);
    assertThat(p.shortFactor()).containsExactly(1, 2);
    assertThat(p.longFactor()).containsExactly(3, 4);
  }
}
