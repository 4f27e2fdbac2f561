package io.pose.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

/** Comparisons against reference vectors. */
public final class Tolerances {
  private Tolerances() {}

  /** |a - e| <= tolerance x max(|e|, the reference's mean magnitude): relative where values are not tiny. */
  public static void assertClose(String what, float[] actual, JsonNode expected, double tolerance) {
    assertThat(actual).as(what + " size").hasSize(expected.size());
    double scale = 0;
    for (JsonNode v : expected) {
      scale += Math.abs(v.asDouble());
    }
    scale /= Math.max(1, expected.size());
    for (int i = 0; i < actual.length; i++) {
      double e = expected.get(i).asDouble();
      assertThat((double) actual[i]).as("%s[%d]", what, i)
          .isCloseTo(e, org.assertj.core.data.Offset.offset(tolerance * Math.max(Math.abs(e), scale)));
    }
  }
}
