package io.pose.core.rope;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every inverse frequency and attention factor matches Hugging Face transformers' own init functions to 1e-6
 * relative, and cos/sin of its rotary module's forward pass at positions up to 131071
 * (tools/reference/rope_vectors.py, committed as reference/rope_vectors.json).
 *
 * <p>cos/sin tolerance: 1e-6 plus what one fp32 ulp of the inverse frequency moves the angle at that position
 * (position x ulp(inv)). Bit-exactness is not attainable: torch's vectorized fp32 {@code pow} is not correctly
 * rounded (for base 1e6, exponent 74/128 it returns 0x4537eba2 while its own scalar path and the correctly rounded
 * value are 0x4537eba3), and at position 131071 one ulp of a frequency is ~2e-6 of angle.
 */
class RopeReferenceTest {

  static JsonNode reference() throws IOException {
    try (InputStream in = RopeReferenceTest.class.getResourceAsStream("/reference/rope_vectors.json")) {
      return new ObjectMapper().readTree(in);
    }
  }

  static Stream<Arguments> cases() throws IOException {
    List<Arguments> out = new ArrayList<>();
    for (JsonNode c : reference().get("cases")) {
      out.add(Arguments.of(c.get("name").asText(), c));
    }
    return out.stream();
  }

  static RopeParameters parameters(JsonNode p) {
    RopeParameters.Builder b = RopeParameters.builder(RopeType.fromWireName(p.get("type").asText()).orElseThrow(),
        p.get("theta").asDouble(), p.get("headDim").asInt(), p.get("maxPositionEmbeddings").asInt());
    if (has(p, "partialRotaryFactor")) {
      b.partialRotaryFactor(p.get("partialRotaryFactor").asDouble());
    }
    b.factor(d(p, "factor")).attentionFactor(d(p, "attentionFactor")).betaFast(d(p, "betaFast"))
        .betaSlow(d(p, "betaSlow")).mscale(d(p, "mscale")).mscaleAllDim(d(p, "mscaleAllDim"))
        .lowFreqFactor(d(p, "lowFreqFactor")).highFreqFactor(d(p, "highFreqFactor"));
    if (has(p, "originalMaxPositionEmbeddings")) {
      b.originalMaxPositionEmbeddings(p.get("originalMaxPositionEmbeddings").asInt());
    }
    if (has(p, "truncate")) {
      b.truncate(p.get("truncate").asBoolean());
    }
    if (has(p, "shortFactor")) {
      b.shortFactor(doubles(p.get("shortFactor")));
      b.longFactor(doubles(p.get("longFactor")));
    }
    return b.build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inverseFrequenciesAndAttentionFactorMatchTransformers(String name, JsonNode c) {
    RopeParameters p = parameters(c.get("params"));
    Integer seqLen = c.get("seqLen").isNull() ? null : c.get("seqLen").asInt();
    RopeFrequencies f = Rope.frequencies(p, seqLen);
    JsonNode expected = c.get("invFreq");
    assertThat(f.inverseFrequencies()).hasSize(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      double e = expected.get(i).asDouble();
      assertThat((double) f.inverseFrequencies()[i]).as("%s inv_freq[%d]", name, i)
          .isCloseTo(e, org.assertj.core.data.Offset.offset(Math.abs(e) * 1e-6));
    }
    double scale = c.get("attentionScaling").asDouble();
    assertThat((double) f.attentionScaling()).as("%s attention scaling", name)
        .isCloseTo(scale, org.assertj.core.data.Offset.offset(scale * 1e-6));
  }

  /**
   * The fp32 error bound of cos/sin at one frequency and position. Both sides compute the angle as one fp32 product
   * fl(position x inv); where their inverse frequencies are the same float, the angles are the same float and only
   * the cos/sin evaluation and the attention scaling round (a few ulps of 1); where they differ (torch's vectorized
   * pow is not correctly rounded), the angles differ by position x |inv - inv_ref| plus one rounding of the product.
   * Without transformers' frequencies (dynamic scaling), one ulp of the frequency stands in for the difference.
   */
  static double tolerance(RopeFrequencies f, JsonNode refInv, int j, int position) {
    float inv = f.inverseFrequencies()[j];
    double scale = Math.max(1, f.attentionScaling());
    double evaluation = 4 * Math.ulp(1f) * scale;
    if (refInv == null) {
      return evaluation + position * (double) Math.ulp(inv) + Math.ulp((float) position * inv);
    }
    float ref = (float) refInv.get(j).asDouble();
    if (ref == inv) {
      return evaluation;
    }
    return evaluation + (position * Math.abs((double) inv - ref) + Math.ulp((float) position * inv)) * scale;
  }

  @Test
  void cosAndSinMatchTheRotaryModuleAtLongPositions() throws IOException {
    for (JsonNode c : reference().get("cosSin")) {
      RopeParameters p = parameters(c.get("params"));
      int[] positions = new int[c.get("positions").size()];
      for (int k = 0; k < positions.length; k++) {
        positions[k] = c.get("positions").get(k).asInt();
      }
      RopeFrequencies f = Rope.forPositions(p, positions);
      Rope.CosSin cs = Rope.cosSin(f, positions);
      int d = cs.dim();
      // transformers' own inverse frequencies for this case (dynamic scaling recomputes them for the positions, so
      // there only the one-ulp bound below applies)
      JsonNode refInv = null;
      for (JsonNode k : reference().get("cases")) {
        if (k.get("name").asText().equals(c.get("case").asText()) && p.type() != RopeType.DYNAMIC) {
          refInv = k.get("invFreq");
        }
      }
      for (int k = 0; k < positions.length; k++) {
        JsonNode cosRow = c.get("cosHalf").get(k);
        JsonNode sinRow = c.get("sinHalf").get(k);
        assertThat(cosRow.size()).isEqualTo(d / 2);
        for (int j = 0; j < d / 2; j++) {
          String at = c.get("case").asText() + " position " + positions[k] + " dim " + j;
          double tolerance = tolerance(f, refInv, j, positions[k]);
          assertThat((double) cs.cos()[k * d + j]).as("cos " + at).isCloseTo(cosRow.get(j).asDouble(),
              org.assertj.core.data.Offset.offset(tolerance));
          assertThat((double) cs.sin()[k * d + j]).as("sin " + at).isCloseTo(sinRow.get(j).asDouble(),
              org.assertj.core.data.Offset.offset(tolerance));
          assertThat(cs.cos()[k * d + d / 2 + j]).as("emb = concat(freqs, freqs)").isEqualTo(cs.cos()[k * d + j]);
        }
      }
    }
  }

  private static boolean has(JsonNode p, String key) {
    return p.has(key) && !p.get(key).isNull();
  }

  private static Double d(JsonNode p, String key) {
    return has(p, key) ? p.get(key).asDouble() : null;
  }

  private static double[] doubles(JsonNode a) {
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asDouble();
    }
    return out;
  }
}
