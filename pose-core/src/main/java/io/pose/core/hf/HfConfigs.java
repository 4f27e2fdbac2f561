package io.pose.core.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.rope.RopeParameters;
import io.pose.core.rope.RopeType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads Hugging Face config.json files of Llama, Mistral and Qwen2-family models, in both the transformers v4
 * layout (rope_theta + rope_scaling with "rope_type" or "type") and the v5 layout (rope_parameters). An unknown or
 * unsupported RoPE type is an error naming it: never a silent fallback to unscaled RoPE, whose errors are zero
 * at position 0 and grow with the length.
 */
public final class HfConfigs {
  private HfConfigs() {}

  static final ObjectMapper JSON = new ObjectMapper();

  /** The model families whose decoder this project implements. */
  public static final Set<String> SUPPORTED_MODEL_TYPES = Set.of("llama", "mistral", "qwen2");

  /** transformers' default rope_theta. */
  static final double DEFAULT_THETA = 10_000.0;

  public static ModelConfig read(Path configJson) throws IOException {
    String text;
    try {
      text = Files.readString(configJson, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(configJson + ": no such file");
    }
    return parse(text, configJson.toString());
  }

  /** Parses config.json text; origin names the file in messages. */
  public static ModelConfig parse(String json, String origin) {
    return parse(tree(json, origin), origin);
  }

  /** Reads config.json text as a tree; origin names the file in messages. */
  public static ObjectNode tree(String json, String origin) {
    try {
      JsonNode node = JSON.readTree(json);
      if (node == null || !node.isObject()) {
        throw new ConfigException(origin + ": not a JSON object");
      }
      return (ObjectNode) node;
    } catch (JsonProcessingException e) {
      throw new ConfigException(origin + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  public static ModelConfig parse(ObjectNode c, String origin) {
    Fields f = new Fields(c, origin);
    String modelType = f.requiredText("model_type");
    if (!SUPPORTED_MODEL_TYPES.contains(modelType)) {
      throw new ConfigException(origin + ": model_type \"" + modelType + "\" is not supported (supported: "
          + String.join(", ", new java.util.TreeSet<>(SUPPORTED_MODEL_TYPES)) + ")");
    }
    int hidden = f.requiredInt("hidden_size");
    int heads = f.requiredInt("num_attention_heads");
    int kvHeads = f.optionalInt("num_key_value_heads", heads);
    if (hidden % heads != 0 && f.isNullOrAbsent("head_dim")) {
      throw new ConfigException(origin + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads
          + " and head_dim is not set");
    }
    int headDim = f.optionalInt("head_dim", hidden / heads);
    if (heads % kvHeads != 0) {
      throw new ConfigException(origin + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads "
          + kvHeads);
    }
    int maxPos = f.requiredInt("max_position_embeddings");
    Integer slidingWindow = f.isNullOrAbsent("sliding_window") ? null : f.requiredInt("sliding_window");
    if (c.has("use_sliding_window") && !c.get("use_sliding_window").asBoolean()) {
      slidingWindow = null;
    }
    ConfigStyle style = c.has("rope_parameters") ? ConfigStyle.ROPE_PARAMETERS : ConfigStyle.ROPE_SCALING;
    RopeParameters rope = rope(c, style, headDim, maxPos, origin);
    return new ModelConfig(style, modelType, f.textList("architectures"), hidden, f.requiredInt("intermediate_size"),
        f.requiredInt("num_hidden_layers"), heads, kvHeads, headDim, f.requiredInt("vocab_size"), maxPos,
        f.optionalDouble("rms_norm_eps", 1e-6), c.path("tie_word_embeddings").asBoolean(false), slidingWindow,
        f.isNullOrAbsent("bos_token_id") ? null : f.requiredInt("bos_token_id"), f.intOrIntList("eos_token_id"),
        c.has("torch_dtype") ? c.get("torch_dtype").asText() : c.path("dtype").asText(null), rope);
  }

  private static RopeParameters rope(ObjectNode c, ConfigStyle style, int headDim, int maxPos, String origin) {
    JsonNode params;
    String key;
    double theta;
    if (style == ConfigStyle.ROPE_PARAMETERS) {
      key = "rope_parameters";
      params = c.get(key);
      if (params.isNull()) {
        params = JSON.createObjectNode();
      }
      if (!params.isObject()) {
        throw new ConfigException(origin + ": rope_parameters must be an object");
      }
      if (nestedByLayerType(params)) {
        throw new ConfigException(origin + ": rope_parameters holds one RoPE per layer type ("
            + String.join(", ", fieldNames(params)) + "); per-layer RoPE is not supported");
      }
      theta = params.has("rope_theta") ? number(params, "rope_theta", key, origin)
          : c.has("rope_theta") ? number(c, "rope_theta", "", origin) : DEFAULT_THETA;
    } else {
      key = "rope_scaling";
      params = c.has(key) && !c.get(key).isNull() ? c.get(key) : JSON.createObjectNode();
      if (!params.isObject()) {
        throw new ConfigException(origin + ": rope_scaling must be an object or null");
      }
      theta = c.has("rope_theta") && !c.get("rope_theta").isNull() ? number(c, "rope_theta", "", origin) : DEFAULT_THETA;
    }
    String typeName = params.has("rope_type") ? params.get("rope_type").asText()
        : params.has("type") ? params.get("type").asText() : "default";
    RopeType type = RopeType.fromWireName(typeName).orElseThrow(() -> new ConfigException(origin + ": " + key
        + ".rope_type \"" + typeName + "\" is not supported (supported: "
        + Arrays.stream(RopeType.values()).map(RopeType::wireName).collect(Collectors.joining(", ")) + ")"));

    RopeParameters.Builder b = RopeParameters.builder(type, theta, headDim, maxPos);
    Double partial = optionalNumber(params, "partial_rotary_factor", key, origin);
    if (partial == null) {
      partial = optionalNumber(c, "partial_rotary_factor", "", origin);
    }
    if (partial != null) {
      b.partialRotaryFactor(partial);
    }
    Double factor = optionalNumber(params, "factor", key, origin);
    if (factor != null && factor < 1 && type != RopeType.DEFAULT && type != RopeType.LONGROPE) {
      throw new ConfigException(origin + ": " + key + ".factor " + factor + " must be at least 1");
    }
    b.factor(factor)
        .attentionFactor(optionalNumber(params, "attention_factor", key, origin))
        .betaFast(optionalNumber(params, "beta_fast", key, origin))
        .betaSlow(optionalNumber(params, "beta_slow", key, origin))
        .mscale(optionalNumber(params, "mscale", key, origin))
        .mscaleAllDim(optionalNumber(params, "mscale_all_dim", key, origin))
        .lowFreqFactor(optionalNumber(params, "low_freq_factor", key, origin))
        .highFreqFactor(optionalNumber(params, "high_freq_factor", key, origin));
    if (params.has("truncate") && !params.get("truncate").isNull()) {
      b.truncate(params.get("truncate").asBoolean());
    }
    if (type == RopeType.YARN || type == RopeType.LLAMA3 || type == RopeType.LONGROPE) {
      // transformers' standardize_rope_params: a top-level original_max_position_embeddings (Phi-3) wins,
      // else the rope dict's own, else max_position_embeddings
      Integer original = c.has("original_max_position_embeddings") && !c.get("original_max_position_embeddings").isNull()
          ? (int) number(c, "original_max_position_embeddings", "", origin)
          : params.has("original_max_position_embeddings")
              ? (int) number(params, "original_max_position_embeddings", key, origin) : maxPos;
      b.originalMaxPositionEmbeddings(original);
    }
    switch (type) {
      case LINEAR, DYNAMIC, YARN -> requireKey(params, "factor", key, typeName, origin);
      case LLAMA3 -> {
        for (String k : List.of("factor", "low_freq_factor", "high_freq_factor")) {
          requireKey(params, k, key, typeName, origin);
        }
      }
      case LONGROPE -> {
        b.shortFactor(doubles(params, "short_factor", key, typeName, origin));
        b.longFactor(doubles(params, "long_factor", key, typeName, origin));
      }
      default -> { }
    }
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new ConfigException(origin + ": " + e.getMessage(), e);
    }
  }

  private static boolean nestedByLayerType(JsonNode params) {
    if (params.isEmpty()) {
      return false;
    }
    Iterator<JsonNode> values = params.elements();
    while (values.hasNext()) {
      JsonNode v = values.next();
      if (!v.isObject() && !v.isNull()) {
        return false;
      }
    }
    return true;
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static void requireKey(JsonNode params, String name, String key, String type, String origin) {
    if (!params.has(name) || params.get(name).isNull()) {
      throw new ConfigException(origin + ": " + key + "." + name + " is required for rope_type \"" + type + "\"");
    }
  }

  private static double[] doubles(JsonNode params, String name, String key, String type, String origin) {
    requireKey(params, name, key, type, origin);
    JsonNode a = params.get(name);
    if (!a.isArray()) {
      throw new ConfigException(origin + ": " + key + "." + name + " must be a list of numbers");
    }
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      if (!a.get(i).isNumber()) {
        throw new ConfigException(origin + ": " + key + "." + name + "[" + i + "] must be a number");
      }
      out[i] = a.get(i).asDouble();
    }
    return out;
  }

  private static double number(JsonNode node, String name, String key, String origin) {
    JsonNode v = node.get(name);
    if (v == null || !v.isNumber()) {
      throw new ConfigException(origin + ": " + (key.isEmpty() ? "" : key + ".") + name + " must be a number, got "
          + (v == null ? "nothing" : v.toString()));
    }
    return v.asDouble();
  }

  private static Double optionalNumber(JsonNode node, String name, String key, String origin) {
    return node.has(name) && !node.get(name).isNull() ? number(node, name, key, origin) : null;
  }

  /** Typed access to top-level keys with messages that name the file and the key. */
  private record Fields(ObjectNode c, String origin) {
    boolean isNullOrAbsent(String key) {
      return !c.has(key) || c.get(key).isNull();
    }

    String requiredText(String key) {
      if (isNullOrAbsent(key) || !c.get(key).isTextual()) {
        throw new ConfigException(origin + ": " + key + " is required (a string)");
      }
      return c.get(key).asText();
    }

    int requiredInt(String key) {
      if (isNullOrAbsent(key)) {
        throw new ConfigException(origin + ": " + key + " is required");
      }
      JsonNode v = c.get(key);
      if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
        throw new ConfigException(origin + ": " + key + " must be a non-negative integer, got " + v);
      }
      return v.asInt();
    }

    int optionalInt(String key, int fallback) {
      return isNullOrAbsent(key) ? fallback : requiredInt(key);
    }

    double optionalDouble(String key, double fallback) {
      return isNullOrAbsent(key) ? fallback : number(c, key, "", origin);
    }

    List<String> textList(String key) {
      if (isNullOrAbsent(key)) {
        return List.of();
      }
      List<String> out = new ArrayList<>();
      c.get(key).forEach(n -> out.add(n.asText()));
      return List.copyOf(out);
    }

    List<Integer> intOrIntList(String key) {
      if (isNullOrAbsent(key)) {
        return List.of();
      }
      JsonNode v = c.get(key);
      if (v.isArray()) {
        List<Integer> out = new ArrayList<>();
        v.forEach(n -> out.add(n.asInt()));
        return List.copyOf(out);
      }
      return List.of(requiredInt(key));
    }
  }
}
