package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.core.rope.RopeType;
import org.junit.jupiter.api.Test;

/** Reading real config.json files of both transformers layouts. */
class HfConfigsTest {

  @Test
  void mistralV01() {
    ModelConfig c = Fixtures.config("mistral-7b-v0.1.json");
    assertThat(c.modelType()).isEqualTo("mistral");
    assertThat(c.architectures()).containsExactly("MistralForCausalLM");
    assertThat(c.hiddenSize()).isEqualTo(4096);
    assertThat(c.intermediateSize()).isEqualTo(14336);
    assertThat(c.numHiddenLayers()).isEqualTo(32);
    assertThat(c.numAttentionHeads()).isEqualTo(32);
    assertThat(c.numKeyValueHeads()).isEqualTo(8);
    assertThat(c.headDim()).isEqualTo(128);
    assertThat(c.vocabSize()).isEqualTo(32000);
    assertThat(c.rmsNormEps()).isEqualTo(1e-5);
    assertThat(c.slidingWindow()).isEqualTo(4096);
    assertThat(c.tieWordEmbeddings()).isFalse();
    assertThat(c.bosTokenId()).isEqualTo(1);
    assertThat(c.eosTokenIds()).containsExactly(2);
    assertThat(c.dtype()).isEqualTo("bfloat16");
    assertThat(c.style()).isEqualTo(ConfigStyle.ROPE_SCALING);
    assertThat(c.rope().type()).isEqualTo(RopeType.DEFAULT);
    assertThat(c.rope().theta()).isEqualTo(10000.0);
    assertThat(c.originalContextLength()).as("the config overstates it; the spec must say 8192").isEqualTo(32768);
  }

  @Test
  void mistralV02HasNoSlidingWindowAndALargerBase() {
    ModelConfig c = Fixtures.config("mistral-7b-instruct-v0.2.json");
    assertThat(c.slidingWindow()).isNull();
    assertThat(c.rope().theta()).isEqualTo(1e6);
  }

  @Test
  void llama2WithoutRopeThetaUsesTheDefaultBase() {
    ModelConfig c = Fixtures.config("llama-2-7b-hf.json");
    assertThat(c.rope().theta()).isEqualTo(10000.0);
    assertThat(c.rope().type()).isEqualTo(RopeType.DEFAULT);
    assertThat(c.numKeyValueHeads()).isEqualTo(32);
    assertThat(c.originalContextLength()).isEqualTo(4096);
    assertThat(c.dtype()).isEqualTo("float16");
  }

  @Test
  void llama31ReadsLlama3ScalingInBothLayouts() {
    for (String file : new String[] {"llama-3.1-8b.json", "llama-3.1-8b-transformers-v5.json"}) {
      ModelConfig c = Fixtures.config(file);
      assertThat(c.rope().type()).as(file).isEqualTo(RopeType.LLAMA3);
      assertThat(c.rope().theta()).isEqualTo(500000.0);
      assertThat(c.rope().factor()).isEqualTo(8.0);
      assertThat(c.rope().lowFreqFactor()).isEqualTo(1.0);
      assertThat(c.rope().highFreqFactor()).isEqualTo(4.0);
      assertThat(c.originalContextLength()).isEqualTo(8192);
      assertThat(c.maxPositionEmbeddings()).isEqualTo(131072);
    }
    assertThat(Fixtures.config("llama-3.1-8b.json").style()).isEqualTo(ConfigStyle.ROPE_SCALING);
    assertThat(Fixtures.config("llama-3.1-8b-transformers-v5.json").style()).isEqualTo(ConfigStyle.ROPE_PARAMETERS);
  }

  @Test
  void qwen2WithSlidingWindowSwitchedOffHasFullAttention() {
    ModelConfig c = Fixtures.config("qwen2-7b.json");
    assertThat(c.slidingWindow()).isNull();
    assertThat(c.headDim()).isEqualTo(128);
    assertThat(c.numKeyValueHeads()).isEqualTo(4);
    assertThat(c.rmsNormEps()).isEqualTo(1e-6);
  }

  @Test
  void yarnInTheOlderTypeKeyIgnoringUnknownExtras() {
    ModelConfig c = Fixtures.config("yarn-mistral-7b-64k.json");
    assertThat(c.rope().type()).isEqualTo(RopeType.YARN);
    assertThat(c.rope().factor()).isEqualTo(8.0);
    assertThat(c.originalContextLength()).isEqualTo(8192);
  }

  private static String mistralWith(String from, String to) {
    String text = Fixtures.text("mistral-7b-v0.1.json");
    assertThat(text).contains(from);
    return text.replace(from, to);
  }

  @Test
  void unknownRopeTypesAreRefusedByName() {
    String json = mistralWith("\"rope_theta\": 10000.0,", "\"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"su\", \"factor\": 2.0},");
    assertThatThrownBy(() -> HfConfigs.parse(json, "config.json")).isInstanceOf(ConfigException.class)
        .hasMessage("config.json: rope_scaling.rope_type \"su\" is not supported (supported: default, linear, dynamic, "
            + "yarn, llama3, longrope)");
  }

  @Test
  void scalingWithoutItsParametersIsRefused() {
    String json = mistralWith("\"rope_theta\": 10000.0,", "\"rope_theta\": 10000.0, \"rope_scaling\": {\"rope_type\": \"yarn\"},");
    assertThatThrownBy(() -> HfConfigs.parse(json, "config.json"))
        .hasMessage("config.json: rope_scaling.factor is required for rope_type \"yarn\"");
    String low = mistralWith("\"rope_theta\": 10000.0,", "\"rope_theta\": 10000.0, \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 0.5},");
    assertThatThrownBy(() -> HfConfigs.parse(low, "config.json")).hasMessage("config.json: rope_scaling.factor 0.5 must be at least 1");
  }

  @Test
  void perLayerRopeAndOtherFamiliesAreRefused() {
    String nested = Fixtures.text("mistral-7b-v0.1-transformers-v5.json").replace(
        "\"rope_parameters\": {\n    \"rope_theta\": 10000.0,\n    \"rope_type\": \"default\"\n  }",
        "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e4}, "
            + "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e4}}");
    assertThat(nested).contains("full_attention");
    assertThatThrownBy(() -> HfConfigs.parse(nested, "config.json")).hasMessageContaining("per-layer RoPE is not supported");
    assertThatThrownBy(() -> HfConfigs.parse(mistralWith("\"model_type\": \"mistral\"", "\"model_type\": \"gpt2\""), "c.json"))
        .hasMessage("c.json: model_type \"gpt2\" is not supported (supported: llama, mistral, qwen2)");
  }

  @Test
  void missingAndMalformedKeysNameTheKey() {
    assertThatThrownBy(() -> HfConfigs.parse(mistralWith("\"hidden_size\": 4096,", ""), "c.json"))
        .hasMessage("c.json: hidden_size is required");
    assertThatThrownBy(() -> HfConfigs.parse(mistralWith("\"num_key_value_heads\": 8,", "\"num_key_value_heads\": 7,"), "c.json"))
        .hasMessage("c.json: num_attention_heads 32 is not a multiple of num_key_value_heads 7");
    assertThatThrownBy(() -> HfConfigs.parse(mistralWith("\"vocab_size\": 32000", "\"vocab_size\": \"many\""), "c.json"))
        .hasMessage("c.json: vocab_size must be a non-negative integer, got \"many\"");
    assertThatThrownBy(() -> HfConfigs.parse("{\"model_type\": ", "c.json")).hasMessageStartingWith("c.json: not valid JSON");
    assertThatThrownBy(() -> HfConfigs.parse("[1]", "c.json")).hasMessage("c.json: not a JSON object");
  }
}
