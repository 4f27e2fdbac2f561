package io.pose.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * The distribution of relative distances the Java sampler covers matches a simulation of the official rule
 * (tools/reference/pose_coverage.py, committed as reference/pose_coverage.json), distance by distance, and
 * every distance in [1, Lt - 1] is reachable.
 */
class OfficialSamplerCoverageTest {

  @Test
  void coverageMatchesTheOfficialRule() throws Exception {
    JsonNode reference;
    try (InputStream in = getClass().getResourceAsStream("/reference/pose_coverage.json")) {
      reference = new ObjectMapper().readTree(in);
    }
    for (JsonNode cfg : reference.get("configs")) {
      int lc = cfg.get("trainingWindow").asInt();
      int lt = cfg.get("targetLength").asInt();
      int samples = cfg.get("samples").asInt();
      PositionSampler sampler = Samplers.official(lc, lt);
      long[] covered = new long[lt];
      int[] document = new int[6 * lc];
      for (int i = 0; i < document.length; i++) {
        document[i] = i;
      }
      for (int i = 0; i < samples; i++) {
        int n = 1 + (int) (((long) i * 7919) % (6L * lc)); // the script's document lengths
        Sample s = sampler.sample(99, i, java.util.Arrays.copyOf(document, n));
        Coverage.add(s.positionIds(), covered);
      }
      JsonNode expected = cfg.get("coveredByDistance");
      double worst = 0;
      for (int d = 1; d < lt; d++) {
        double pRef = expected.get(d).asDouble() / samples;
        double pJava = (double) covered[d] / samples;
        double p = (pRef + pJava) / 2;
        double sigma = Math.sqrt(Math.max(p * (1 - p), 1.0 / samples) * 2.0 / samples);
        double z = Math.abs(pRef - pJava) / sigma;
        worst = Math.max(worst, z);
        assertThat(z).as("Lc=%d Lt=%d distance %d: reference %.5f, java %.5f", lc, lt, d, pRef, pJava)
            .isLessThan(5.5);
        assertThat(covered[d]).as("Lc=%d Lt=%d: distance %d is reachable", lc, lt, d).isPositive();
      }
      assertThat(worst).as("not trivially equal either").isGreaterThan(0);
    }
  }
}
