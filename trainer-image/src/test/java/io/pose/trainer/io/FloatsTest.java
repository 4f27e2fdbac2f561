package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** fp32 to IEEE half rounds to nearest, ties to even, as torch's .half() does: normal and subnormal halves alike. */
class FloatsTest {

  static String f16(float f) {
    return String.format("0x%04X", Floats.floatToF16(f) & 0xFFFF);
  }

  @Test
  void tiesBetweenNormalHalvesRoundToTheEvenOne() {
    assertThat(f16(1f + 0x1p-11f)).as("1 + 2^-11: halfway to 1 + 2^-10").isEqualTo("0x3C00");
    assertThat(f16(1f + 3 * 0x1p-11f)).as("1 + 3 * 2^-11: halfway to 1 + 2^-9").isEqualTo("0x3C02");
    assertThat(f16(1f + 0x1p-11f + 0x1p-23f)).as("just above the tie").isEqualTo("0x3C01");
    assertThat(f16(1f + 3 * 0x1p-11f - 0x1p-23f)).as("just below the tie").isEqualTo("0x3C01");
    assertThat(f16(-(1f + 3 * 0x1p-11f))).isEqualTo("0xBC02");
    assertThat(f16(1f - 0x1p-12f)).as("halfway from the largest half below 1 (odd) to 1: up into the next exponent")
        .isEqualTo("0x3C00");
    assertThat(f16(1f - 0x1p-11f)).isEqualTo("0x3BFF");
  }

  @Test
  void tiesBetweenSubnormalHalvesRoundToTheEvenOne() {
    // subnormal halves are multiples of 2^-24
    assertThat(f16(0x1p-25f)).as("half of the smallest subnormal: a tie with zero").isEqualTo("0x0000");
    assertThat(f16(0x1p-25f + 0x1p-40f)).as("just above it").isEqualTo("0x0001");
    assertThat(f16(3 * 0x1p-25f)).as("1.5 x 2^-24").isEqualTo("0x0002");
    assertThat(f16(5 * 0x1p-25f)).as("2.5 x 2^-24").isEqualTo("0x0002");
    assertThat(f16(5 * 0x1p-25f + 0x1p-40f)).isEqualTo("0x0003");
    assertThat(f16(3 * 0x1p-26f)).as("0.75 x 2^-24").isEqualTo("0x0001");
    assertThat(f16(0x1p-26f)).as("0.25 x 2^-24").isEqualTo("0x0000");
    assertThat(f16(1025 * 0x1p-25f)).as("512.5 x 2^-24").isEqualTo("0x0200");
    assertThat(f16(1027 * 0x1p-25f)).as("513.5 x 2^-24").isEqualTo("0x0202");
    assertThat(f16(-1027 * 0x1p-25f)).isEqualTo("0x8202");
    assertThat(f16(2047 * 0x1p-25f)).as("1023.5 x 2^-24 rounds up to the smallest normal").isEqualTo("0x0400");
    assertThat(Floats.f16ToFloat(Floats.floatToF16(1027 * 0x1p-25f))).isEqualTo(514 * 0x1p-24f);
  }
}
