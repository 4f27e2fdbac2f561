package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.rope.RopeType;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The edges of config.json reading that the real files above do not reach: each value at the boundary of its rule,
 * each optional key present and absent, each malformed value refused by name (the mutants docs/quality.md lists for
 * HfConfigs).
 */
class HfConfigsEdgesTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A small, valid Llama config.json (transformers 4 layout), to be edited per case. */
  private static ObjectNode llama() {
    ObjectNode c = JSON.createObjectNode();
    c.put("model_type", "llama").put("hidden_size", 64).put("intermediate_size", 176)
        .put("num_hidden_layers", 2).put("num_attention_heads", 4).put("num_key_value_heads", 2)
        .put("vocab_size", 512).put("max_position_embeddings", 16384).put("rope_theta", 10000.0);
    return c;
  }

  private static ObjectNode rope(ObjectNode c, String json) throws Exception {
    c.set("rope_scaling", JSON.readTree(json));
    return c;
  }

  private static ModelConfig parse(ObjectNode c) {
    return HfConfigs.parse(c.toString(), "c.json");
  }

  @Test
  void aPartialRotaryFactorIsReadFromTheRopeDictFirstThenTheTopLevel() throws Exception {
    ObjectNode inDict = rope(llama(), "{\"rope_type\": \"linear\", \"factor\": 2.0, \"partial_rotary_factor\": 0.5}");
    inDict.put("partial_rotary_factor", 0.25);
    assertThat(parse(inDict).rope().partialRotaryFactor()).isEqualTo(0.5);
    assertThat(parse(inDict).rope().rotaryDim()).isEqualTo(8);
    ObjectNode topLevel = llama().put("partial_rotary_factor", 0.25);
    assertThat(parse(topLevel).rope().partialRotaryFactor()).isEqualTo(0.25);
    assertThat(parse(llama()).rope().partialRotaryFactor()).isEqualTo(1.0);
  }

  @Test
  void aScalingFactorOfExactlyOneIsAccepted() throws Exception {
    assertThat(parse(rope(llama(), "{\"rope_type\": \"linear\", \"factor\": 1.0}")).rope().factor()).isEqualTo(1.0);
    assertThatThrownBy(() -> parse(rope(llama(), "{\"rope_type\": \"linear\", \"factor\": 0.999}")))
        .hasMessage("c.json: rope_scaling.factor 0.999 must be at least 1");
    // plain RoPE and longrope may carry factors below 1 (longrope's is a ratio of lengths)
    assertThat(parse(rope(llama(), "{\"rope_type\": \"default\", \"factor\": 0.5}")).rope().type())
        .isEqualTo(RopeType.DEFAULT);
  }

  @Test
  void yarnReadsTruncateAndTheOriginalLengthFromTheRightPlace() throws Exception {
    ObjectNode yarn = rope(llama(), "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": "
        + "4096, \"truncate\": false}");
    assertThat(parse(yarn).rope().truncate()).isFalse();
    assertThat(parse(yarn).rope().originalMaxPositionEmbeddings()).isEqualTo(4096);
    assertThat(parse(yarn).rope().maxPositionEmbeddings()).isEqualTo(16384);
    // a top-level original_max_position_embeddings (Phi-3's layout) wins over the dict's
    yarn.put("original_max_position_embeddings", 2048);
    assertThat(parse(yarn).rope().originalMaxPositionEmbeddings()).isEqualTo(2048);
    // neither: max_position_embeddings
    ObjectNode plain = rope(llama(), "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"truncate\": null}");
    assertThat(parse(plain).rope().originalMaxPositionEmbeddings()).isEqualTo(16384);
    assertThat(parse(plain).rope().truncate()).isNull();
    // types without an original length do not get one
    assertThat(parse(rope(llama(), "{\"rope_type\": \"linear\", \"factor\": 2.0, "
        + "\"original_max_position_embeddings\": 4096}")).rope().originalMaxPositionEmbeddings()).isNull();
  }

  @Test
  void llama3NeedsEachOfItsThreeParameters() throws Exception {
    for (String missing : new String[] {"factor", "low_freq_factor", "high_freq_factor"}) {
      ObjectNode params = (ObjectNode) JSON.readTree("{\"rope_type\": \"llama3\", \"factor\": 8.0, "
          + "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}");
      params.remove(missing);
      ObjectNode c = llama();
      c.set("rope_scaling", params);
      assertThatThrownBy(() -> parse(c)).as(missing)
          .hasMessage("c.json: rope_scaling." + missing + " is required for rope_type \"llama3\"");
    }
  }

  @Test
  void longropeFactorListsAreCheckedElementByElement() throws Exception {
    String head = "{\"rope_type\": \"longrope\", \"original_max_position_embeddings\": 4096, ";
    ObjectNode ok = rope(llama(), head + "\"short_factor\": [1, 1.5, 2, 2.5], \"long_factor\": [4, 4, 4, 4.5]}");
    assertThat(parse(ok).rope().shortFactor()).containsExactly(1, 1.5, 2, 2.5);
    assertThat(parse(ok).rope().longFactor()).containsExactly(4, 4, 4, 4.5);
    assertThatThrownBy(() -> parse(rope(llama(), head + "\"long_factor\": [4, 4, 4, 4]}")))
        .hasMessage("c.json: rope_scaling.short_factor is required for rope_type \"longrope\"");
    assertThatThrownBy(() -> parse(rope(llama(), head + "\"short_factor\": 2, \"long_factor\": [4, 4, 4, 4]}")))
        .hasMessage("c.json: rope_scaling.short_factor must be a list of numbers");
    assertThatThrownBy(() -> parse(rope(llama(), head + "\"short_factor\": [1, 1, \"x\", 1], \"long_factor\": [4]}")))
        .hasMessage("c.json: rope_scaling.short_factor[2] must be a number");
  }

  @Test
  void numbersAreRefusedByNameWithWhatWasThere() throws Exception {
    assertThatThrownBy(() -> parse(llama().put("rope_theta", "big")))
        .hasMessage("c.json: rope_theta must be a number, got \"big\"");
    assertThatThrownBy(() -> parse(rope(llama(), "{\"rope_type\": \"linear\", \"factor\": [2]}")))
        .hasMessage("c.json: rope_scaling.factor must be a number, got [2]");
    ObjectNode v5 = llama();
    v5.remove("rope_theta");
    v5.set("rope_parameters", JSON.readTree("{\"rope_type\": \"default\", \"rope_theta\": true}"));
    assertThatThrownBy(() -> parse(v5)).hasMessage("c.json: rope_parameters.rope_theta must be a number, got true");
  }

  @Test
  void ropeParametersTakeTheTopLevelThetaWhenTheyHaveNone() throws Exception {
    ObjectNode v5 = llama().put("rope_theta", 500000.0);
    v5.set("rope_parameters", JSON.readTree("{\"rope_type\": \"default\"}"));
    assertThat(parse(v5).rope().theta()).isEqualTo(500000.0);
    assertThat(parse(v5).style()).isEqualTo(ConfigStyle.ROPE_PARAMETERS);
    v5.set("rope_parameters", JSON.readTree("{}"));
    assertThat(parse(v5).rope().type()).isEqualTo(RopeType.DEFAULT);
    assertThat(parse(v5).rope().theta()).isEqualTo(500000.0);
    v5.set("rope_parameters", JSON.readTree("[1]"));
    assertThatThrownBy(() -> parse(v5)).hasMessage("c.json: rope_parameters must be an object");
    // a dict whose values are not all objects is one RoPE, not one per layer type
    v5.set("rope_parameters", JSON.readTree("{\"rope_type\": \"default\", \"extra\": {\"a\": 1}}"));
    assertThat(parse(v5).rope().type()).isEqualTo(RopeType.DEFAULT);
    v5.set("rope_parameters", JSON.readTree("{\"full_attention\": {\"rope_type\": \"default\"}, "
        + "\"sliding_attention\": null}"));
    assertThatThrownBy(() -> parse(v5)).hasMessage("c.json: rope_parameters holds one RoPE per layer type "
        + "(full_attention, sliding_attention); per-layer RoPE is not supported");
  }

  @Test
  void zeroIsANonNegativeIntegerAndAHeadDimMustDivideOrBeGiven() {
    assertThat(parse(llama().put("bos_token_id", 0)).bosTokenId()).isZero();
    assertThatThrownBy(() -> parse(llama().put("bos_token_id", -1)))
        .hasMessage("c.json: bos_token_id must be a non-negative integer, got -1");
    assertThatThrownBy(() -> parse(llama().put("hidden_size", 66)))
        .hasMessage("c.json: hidden_size 66 is not a multiple of num_attention_heads 4 and head_dim is not set");
    assertThat(parse(llama().put("hidden_size", 66).put("head_dim", 16)).headDim()).isEqualTo(16);
  }

  @Test
  void eosTokenIdsMayBeOneOrAList() throws Exception {
    ObjectNode list = llama();
    list.set("eos_token_id", JSON.readTree("[128001, 128008, 128009]"));
    assertThat(parse(list).eosTokenIds()).containsExactly(128001, 128008, 128009);
    assertThat(parse(llama().put("eos_token_id", 2)).eosTokenIds()).containsExactly(2);
    assertThat(parse(llama()).eosTokenIds()).isEmpty();
  }

  @Test
  void aMissingFileIsNamed(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("config.json");
    assertThatThrownBy(() -> HfConfigs.read(config)).isInstanceOf(NoSuchFileException.class)
        .hasMessage(config + ": no such file");
    Files.writeString(config, llama().toString());
    assertThat(HfConfigs.read(config).hiddenSize()).isEqualTo(64);
  }
}
