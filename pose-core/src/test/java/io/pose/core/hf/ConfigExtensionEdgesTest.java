package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.hf.ConfigExtension.Plan;
import io.pose.core.hf.ConfigExtension.Scaling;
import io.pose.core.rope.RopeParameters;
import org.junit.jupiter.api.Test;

/**
 * The cases of config extension the committed transformers-checked files do not reach (the mutants docs/quality.md
 * lists for ConfigExtension): YaRN's optional parameters, a linearly scaled base, NTK over a config that had a
 * rope_scaling dict, partial rotary factors in the rope_parameters layout, the factor's bound.
 */
class ConfigExtensionEdgesTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static ObjectNode llama(String ropeKey, String ropeJson) throws Exception {
    ObjectNode c = JSON.createObjectNode();
    c.put("model_type", "llama").put("hidden_size", 64).put("intermediate_size", 176)
        .put("num_hidden_layers", 2).put("num_attention_heads", 4).put("num_key_value_heads", 2)
        .put("vocab_size", 512).put("max_position_embeddings", 4096).put("rope_theta", 10000.0);
    if (ropeKey != null) {
      c.set(ropeKey, JSON.readTree(ropeJson));
    }
    return c;
  }

  @Test
  void yarnWritesEveryOptionalParameterItIsGiven() throws Exception {
    Plan plan = new Plan(4096, 16384, Scaling.YARN, null, 32.0, 1.0, 0.9, 1.5, 0.5, false, false);
    ObjectNode scaling = (ObjectNode) ConfigExtension.extend(llama(null, null), plan, "c").get("rope_scaling");
    assertThat(scaling.get("beta_fast").asDouble()).isEqualTo(32.0);
    assertThat(scaling.get("beta_slow").asDouble()).isEqualTo(1.0);
    assertThat(scaling.get("attention_factor").asDouble()).isEqualTo(0.9);
    assertThat(scaling.get("mscale").asDouble()).isEqualTo(1.5);
    assertThat(scaling.get("mscale_all_dim").asDouble()).isEqualTo(0.5);
    assertThat(scaling.get("truncate").asBoolean()).isFalse();
    RopeParameters rope = ConfigExtension.extendedRope(llama(null, null), plan, "c");
    assertThat(rope.attentionFactor()).isEqualTo(0.9);
    assertThat(rope.mscale()).isEqualTo(1.5);
    assertThat(rope.mscaleAllDim()).isEqualTo(0.5);
    ObjectNode none = (ObjectNode) ConfigExtension.extend(llama(null, null), Plan.of(4096, 16384, Scaling.YARN), "c")
        .get("rope_scaling");
    assertThat(none.has("attention_factor") || none.has("mscale") || none.has("mscale_all_dim")
        || none.has("truncate") || none.has("beta_fast")).isFalse();
  }

  @Test
  void aLinearlyScaledBaseMultipliesItsFactorUnlessOneIsGiven() throws Exception {
    ObjectNode base = llama("rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}");
    ObjectNode out = ConfigExtension.extend(base, Plan.of(8192, 32768, Scaling.LINEAR), "c");
    assertThat(out.get("rope_scaling").get("factor").asDouble()).isEqualTo(8.0);
    ObjectNode given = ConfigExtension.extend(base, new Plan(8192, 32768, Scaling.LINEAR, 6.0, null, null, null, null,
        null, null, false), "c");
    assertThat(given.get("rope_scaling").get("factor").asDouble()).isEqualTo(6.0);
    assertThatThrownBy(() -> ConfigExtension.extend(base, Plan.of(8192, 32768, Scaling.YARN), "c"))
        .hasMessageStartingWith("c: the base model already uses linear RoPE scaling; extending it with yarn");
    ObjectNode yarnBase = llama("rope_scaling", "{\"type\": \"yarn\", \"factor\": 2.0, "
        + "\"original_max_position_embeddings\": 2048}");
    assertThatThrownBy(() -> ConfigExtension.extend(yarnBase, Plan.of(4096, 16384, Scaling.LINEAR), "c"))
        .hasMessageStartingWith("c: the base model already uses yarn RoPE scaling; extending it with linear");
  }

  @Test
  void ntkClearsARopeScalingDictAndRaisesTheBase() throws Exception {
    ObjectNode base = llama("rope_scaling", "{\"rope_type\": \"default\"}");
    ObjectNode out = ConfigExtension.extend(base, Plan.of(4096, 16384, Scaling.NTK), "c");
    assertThat(out.get("rope_scaling").isNull()).isTrue();
    // head dim 16: theta x 4^(16/14)
    assertThat(out.get("rope_theta").asDouble()).isCloseTo(10000 * Math.pow(4, 16.0 / 14), org.assertj.core.data
        .Offset.offset(1e-6));
    assertThat(ConfigExtension.extend(llama(null, null), Plan.of(4096, 16384, Scaling.NTK), "c").has("rope_scaling"))
        .as("no key where there was none").isFalse();
  }

  @Test
  void theRopeParametersLayoutKeepsAPartialRotaryFactor() throws Exception {
    ObjectNode partial = llama("rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 10000.0, "
        + "\"partial_rotary_factor\": 0.5}");
    partial.remove("rope_theta");
    ObjectNode out = ConfigExtension.extend(partial, Plan.of(4096, 16384, Scaling.YARN), "c");
    assertThat(out.get("rope_parameters").get("partial_rotary_factor").asDouble()).isEqualTo(0.5);
    assertThat(ConfigExtension.extendedRope(partial, Plan.of(4096, 16384, Scaling.YARN), "c").rotaryDim())
        .isEqualTo(8);
    ObjectNode whole = llama("rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 10000.0}");
    whole.remove("rope_theta");
    assertThat(ConfigExtension.extend(whole, Plan.of(4096, 16384, Scaling.YARN), "c").get("rope_parameters")
        .has("partial_rotary_factor")).isFalse();
  }

  @Test
  void aFactorOfOneIsThePlainestPlanAndBelowItIsRefused() {
    assertThat(new Plan(4096, 8192, Scaling.LINEAR, 1.0, null, null, null, null, null, null, false).resolvedFactor())
        .isEqualTo(1.0);
    assertThatThrownBy(() -> new Plan(4096, 8192, Scaling.LINEAR, 0.99, null, null, null, null, null, null, false))
        .hasMessage("factor 0.99 must be at least 1");
  }

  @Test
  void theTextFormIsTwoSpaceIndentedWithAFinalNewline() throws Exception {
    String text = ConfigExtension.extend(llama(null, null).toString(), Plan.of(4096, 16384, Scaling.LINEAR), "c");
    assertThat(text).startsWith("{\n  \"model_type\": \"llama\",\n").endsWith("}\n");
    assertThat(HfConfigs.parse(text, "c").maxPositionEmbeddings()).isEqualTo(16384);
  }
}
