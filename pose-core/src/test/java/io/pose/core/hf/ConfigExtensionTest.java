package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.hf.ConfigExtension.Plan;
import io.pose.core.hf.ConfigExtension.Scaling;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import io.pose.core.rope.RopeParameters;
import io.pose.core.rope.RopeType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigExtensionTest {

  static final Path GOLDEN = Path.of("src/test/resources/reference/extended");

  static Stream<Arguments> cases() {
    return ExtensionCases.all().stream().map(c -> Arguments.of(c.name(), c));
  }

  static ObjectNode extended(ExtensionCases.Case c) {
    return ConfigExtension.extend(HfConfigs.tree(Fixtures.text(c.fixture()), c.fixture()), c.plan(), c.fixture());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void outputMatchesTheCommittedFileThatTransformersChecked(String name, ExtensionCases.Case c) throws Exception {
    String json = ConfigExtension.toJson(extended(c));
    Path golden = GOLDEN.resolve(name + ".json");
    if (Boolean.getBoolean("pose.updateFixtures")) {
      Files.createDirectories(GOLDEN);
      Files.writeString(golden, json);
    }
    assertThat(golden).as("regenerate with -Dpose.updateFixtures=true, then run tools/reference/extended_config_check.py")
        .exists();
    assertThat(Files.readString(golden)).isEqualTo(json);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void unrelatedKeysKeepTheirValuesAndPlaces(String name, ExtensionCases.Case c) {
    ObjectNode original = HfConfigs.tree(Fixtures.text(c.fixture()), c.fixture());
    ObjectNode out = extended(c);
    List<String> changed = List.of("max_position_embeddings", "rope_scaling", "rope_parameters", "rope_theta",
        "sliding_window", "pose_extension");
    List<String> before = new ArrayList<>();
    original.fieldNames().forEachRemaining(k -> {
      if (!changed.contains(k)) {
        before.add(k);
      }
    });
    List<String> after = new ArrayList<>();
    out.fieldNames().forEachRemaining(k -> {
      if (!changed.contains(k)) {
        after.add(k);
      }
    });
    assertThat(after).as("same unrelated keys in the same order").isEqualTo(before);
    for (String k : before) {
      assertThat(out.get(k)).as(k).isEqualTo(original.get(k));
    }
    assertThat(HfConfigs.tree(Fixtures.text(c.fixture()), c.fixture())).as("input untouched").isEqualTo(original);
    assertThat(out.has("rope_parameters")).as("layout kept").isEqualTo(original.has("rope_parameters"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theWrittenConfigSaysWhatWasPlanned(String name, ExtensionCases.Case c) {
    ObjectNode out = extended(c);
    ModelConfig read = HfConfigs.parse(out, name);
    Plan plan = c.plan();
    RopeParameters rope = read.rope();
    switch (plan.scaling()) {
      case DYNAMIC -> {
        assertThat(read.maxPositionEmbeddings()).isEqualTo(plan.originalContextLength());
        assertThat(rope.type()).isEqualTo(RopeType.DYNAMIC);
      }
      case NTK -> {
        assertThat(read.maxPositionEmbeddings()).isEqualTo(plan.targetContextLength());
        assertThat(rope.type()).isEqualTo(RopeType.DEFAULT);
        int d = rope.rotaryDim();
        double base = HfConfigs.parse(HfConfigs.tree(Fixtures.text(c.fixture()), c.fixture()), c.fixture()).rope().theta();
        assertThat(rope.theta()).isCloseTo(base * Math.pow(plan.resolvedFactor(), (double) d / (d - 2)),
            org.assertj.core.data.Offset.offset(1e-6));
      }
      default -> {
        assertThat(read.maxPositionEmbeddings()).isEqualTo(plan.targetContextLength());
        assertThat(rope.type().wireName()).isEqualTo(plan.scaling().wireName());
        assertThat(rope.factor()).isNotNull();
        if (read.style() == ConfigStyle.ROPE_SCALING) {
          JsonNode scaling = out.get("rope_scaling");
          assertThat(scaling.get("type").asText()).as("older readers").isEqualTo(scaling.get("rope_type").asText());
          assertThat(scaling.get("factor").isFloatingPointNumber()).as("a JSON float").isTrue();
        }
      }
    }
    assertThat(out.get("pose_extension").get("target_context_length").asInt()).isEqualTo(plan.targetContextLength());
  }

  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"llama-2-7b-hf.json", "llama-3.1-8b.json",
      "mistral-7b-v0.1.json", "mistral-7b-instruct-v0.2.json", "qwen2-7b.json", "yarn-mistral-7b-64k.json",
      "llama-3.1-8b-transformers-v5.json", "mistral-7b-v0.1-transformers-v5.json"})
  void anUntouchedConfigIsWrittenBackByteForByte(String fixture) {
    String text = Fixtures.text(fixture);
    assertThat(ConfigExtension.toJson(HfConfigs.tree(text, fixture))).isEqualTo(text.endsWith("\n") ? text : text + "\n");
  }

  @Test
  void slidingWindowIsRemovedUnlessKeptAndRecorded() {
    ExtensionCases.Case yarn = ExtensionCases.all().get(0);
    ObjectNode out = extended(yarn);
    assertThat(out.get("sliding_window").isNull()).isTrue();
    assertThat(out.get("pose_extension").get("removed_sliding_window").asInt()).isEqualTo(4096);
    ObjectNode kept = extended(ExtensionCases.all().get(4));
    assertThat(kept.get("sliding_window").asInt()).isEqualTo(4096);
    ObjectNode qwen = extended(ExtensionCases.all().stream().filter(c -> c.name().startsWith("qwen2")).findFirst().orElseThrow());
    assertThat(qwen.get("sliding_window").asInt()).as("already off through use_sliding_window").isEqualTo(131072);
  }

  @Test
  void anAlreadyYarnScaledModelIsExtendedFromItsPretrainingLength() {
    ObjectNode out = extended(ExtensionCases.all().stream().filter(c -> c.name().startsWith("yarn-mistral")).findFirst()
        .orElseThrow());
    assertThat(out.get("rope_scaling").get("original_max_position_embeddings").asInt()).isEqualTo(8192);
    assertThat(out.get("rope_scaling").get("factor").asDouble()).isEqualTo(16.0);
  }

  @Test
  void incompatibleScalingOfTheBaseIsRefused() {
    ObjectNode llama31 = HfConfigs.tree(Fixtures.text("llama-3.1-8b.json"), "llama-3.1-8b.json");
    assertThatThrownBy(() -> ConfigExtension.extend(llama31, Plan.of(131072, 262144, Scaling.YARN), "config.json"))
        .isInstanceOf(ConfigException.class).hasMessage("config.json: the base model already uses llama3 RoPE scaling; "
            + "extending it with yarn is not supported (extend a model with plain RoPE, or one scaled with the same "
            + "method: linear or yarn)");
    assertThatThrownBy(() -> Plan.of(8192, 8192, Scaling.YARN)).hasMessage(
        "target context length 8192 must exceed the original context length 8192");
  }

  @Test
  void extendedRopeIsWhatTheTrainerApplies() {
    ObjectNode mistral = HfConfigs.tree(Fixtures.text("mistral-7b-v0.1.json"), "m");
    RopeParameters rope = ConfigExtension.extendedRope(mistral, Plan.of(8192, 32768, Scaling.YARN), "m");
    RopeFrequencies f = Rope.frequencies(rope, null);
    assertThat(f.attentionScaling()).isCloseTo(1.138629f, org.assertj.core.data.Offset.offset(1e-6f));
    assertThat(rope.originalMaxPositionEmbeddings()).isEqualTo(8192);
  }
}
