package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * transformers loaded every extended config the Java writer produced (tools/reference/extended_config_check.py,
 * committed as reference/extended_frequencies.json) without a warning, and computes from it the RoPE that Java
 * computes from the same file: the published model is read exactly as it was trained.
 */
class ExtendedConfigFrequenciesTest {

  @Test
  void transformersReadsTheExtendedConfigsAsJavaDoes() throws Exception {
    JsonNode reference;
    try (InputStream in = getClass().getResourceAsStream("/reference/extended_frequencies.json")) {
      reference = new ObjectMapper().readTree(in);
    }
    JsonNode cases = reference.get("cases");
    assertThat(cases.size()).as("every committed extended config was checked").isEqualTo(ExtensionCases.all().size());
    for (Iterator<Map.Entry<String, JsonNode>> it = cases.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      JsonNode expected = e.getValue();
      ModelConfig config = HfConfigs.parse(Files.readString(Path.of("src/test/resources/reference/extended", name + ".json")),
          name);
      assertThat(config.rope().type().wireName()).as(name).isEqualTo(expected.get("ropeType").asText());
      assertThat(config.maxPositionEmbeddings()).isEqualTo(expected.get("maxPositionEmbeddings").asInt());
      assertThat(config.slidingWindow() == null).as(name + " sliding window")
          .isEqualTo(expected.get("slidingWindow").isNull());
      compare(name, Rope.frequencies(config.rope(), null), expected.get("invFreq"), expected.get("attentionScaling"));
      if (expected.has("dynamicAtTarget")) {
        JsonNode dyn = expected.get("dynamicAtTarget");
        compare(name + " at the target length", Rope.forSequenceLength(config.rope(), dyn.get("sequenceLength").asInt()),
            dyn.get("invFreq"), expected.get("attentionScaling"));
      }
      if (!name.equals("llama-2-16k-yarn-options")) { // an explicit factor different from target/original is warned about
        assertThat(expected.get("warnings")).as(name + ": transformers warnings").isEmpty();
      }
    }
  }

  private static void compare(String name, RopeFrequencies f, JsonNode inv, JsonNode scaling) {
    assertThat(f.inverseFrequencies()).hasSize(inv.size());
    for (int i = 0; i < inv.size(); i++) {
      double e = inv.get(i).asDouble();
      assertThat((double) f.inverseFrequencies()[i]).as("%s inv_freq[%d]", name, i).isCloseTo(e, offset(Math.abs(e) * 1e-6));
    }
    assertThat((double) f.attentionScaling()).as(name).isCloseTo(scaling.asDouble(), offset(1e-6));
  }
}
