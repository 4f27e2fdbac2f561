package io.pose.core.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.rope.RopeParameters;
import io.pose.core.rope.RopeType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes the config.json of an extended model: max_position_embeddings = the target, and RoPE scaling that
 * transformers and vLLM read exactly as the model was trained. Every unrelated key keeps its value and place, and
 * the file keeps its transformers v4 (rope_scaling) or v5 (rope_parameters) layout.
 *
 * <p>Choices the written file makes explicit:
 * <ul>
 *   <li>v4 layout: rope_scaling carries both "rope_type" and the older "type" (older readers know only "type")
 *       and a float factor; yarn also original_max_position_embeddings (linear and dynamic have none: transformers
 *       warns about the key).</li>
 *   <li>Static NTK has no rope type in transformers: it is written as plain RoPE with the scaled base,
 *       rope_theta = theta x factor^(d / (d - 2)), which every reader computes identically.</li>
 *   <li>Dynamic NTK keeps max_position_embeddings at the original length: transformers measures the growth of the
 *       base from max_position_embeddings (with it at the target, nothing would be scaled below the target), and
 *       vLLM derives the usable length as max_position_embeddings x factor, which is the target.</li>
 *   <li>The sliding window is removed (sliding_window: null) unless kept on purpose: transformers masks by token
 *       index, so with PoSE samples a window would hide exactly the long cross-chunk distances PoSE teaches, and
 *       retrieval over the whole target window needs full attention (Mistral v0.2 itself ships without one).</li>
 *   <li>A "pose_extension" object records the original and target lengths, the scaling and what was removed.</li>
 * </ul>
 */
public final class ConfigExtension {
  private ConfigExtension() {}

  /** The RoPE scaling of the extended model (spec.ropeScaling.type). */
  public enum Scaling {
    LINEAR, NTK, DYNAMIC, YARN;

    public String wireName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * What to write.
   *
   * @param originalContextLength the length the base handles (spec.model.originalContextLength, or the config's)
   * @param targetContextLength the extended length
   * @param scaling the scaling
   * @param factor the factor, or null for target / original
   * @param betaFast yarn option, or null
   * @param betaSlow yarn option, or null
   * @param attentionFactor yarn option, or null
   * @param mscale yarn option, or null
   * @param mscaleAllDim yarn option, or null
   * @param truncate yarn option, or null
   * @param keepSlidingWindow keep the base's sliding window instead of removing it
   */
  public record Plan(int originalContextLength, int targetContextLength, Scaling scaling, Double factor, Double betaFast,
      Double betaSlow, Double attentionFactor, Double mscale, Double mscaleAllDim, Boolean truncate,
      boolean keepSlidingWindow) {

    public static Plan of(int originalContextLength, int targetContextLength, Scaling scaling) {
      return new Plan(originalContextLength, targetContextLength, scaling, null, null, null, null, null, null, null, false);
    }

    public Plan {
      if (targetContextLength <= originalContextLength) {
        throw new IllegalArgumentException("target context length " + targetContextLength
            + " must exceed the original context length " + originalContextLength);
      }
      if (factor != null && factor < 1) {
        throw new IllegalArgumentException("factor " + factor + " must be at least 1");
      }
    }

    public double resolvedFactor() {
      return factor != null ? factor : (double) targetContextLength / originalContextLength;
    }
  }

  /** The extended config.json as text: 2-space indentation and a final newline, as transformers writes it. */
  public static String extend(String originalJson, Plan plan, String origin) {
    return toJson(extend(HfConfigs.tree(originalJson, origin), plan, origin));
  }

  /** The extended config as a tree (the input is not modified). */
  public static ObjectNode extend(ObjectNode original, Plan plan, String origin) {
    ModelConfig base = HfConfigs.parse(original, origin);
    RopeParameters rope = base.rope();
    double factor = composedFactor(base, plan, origin);
    int dim = rope.rotaryDim();
    boolean v5 = base.style() == ConfigStyle.ROPE_PARAMETERS;

    Edits out = new Edits(original.deepCopy());
    out.put("max_position_embeddings", plan.scaling() == Scaling.DYNAMIC ? plan.originalContextLength()
        : plan.targetContextLength());

    ObjectNode scaling = HfConfigs.JSON.createObjectNode();
    double theta = rope.theta();
    if (plan.scaling() == Scaling.NTK) {
      theta = rope.theta() * Math.pow(factor, (double) dim / (dim - 2));
    } else {
      String type = plan.scaling().wireName();
      scaling.put("rope_type", type);
      if (!v5) {
        scaling.put("type", type);
      }
      scaling.put("factor", factor);
      if (plan.scaling() == Scaling.YARN) {
        int yarnOriginal = rope.type() == RopeType.YARN && rope.originalMaxPositionEmbeddings() != null
            ? rope.originalMaxPositionEmbeddings() : plan.originalContextLength();
        scaling.put("original_max_position_embeddings", yarnOriginal);
        putIfSet(scaling, "beta_fast", plan.betaFast());
        putIfSet(scaling, "beta_slow", plan.betaSlow());
        putIfSet(scaling, "attention_factor", plan.attentionFactor());
        putIfSet(scaling, "mscale", plan.mscale());
        putIfSet(scaling, "mscale_all_dim", plan.mscaleAllDim());
        if (plan.truncate() != null) {
          scaling.put("truncate", plan.truncate());
        }
      }
      // linear and dynamic have no original_max_position_embeddings in transformers (it warns about the key);
      // pose_extension records the original length for every scaling
    }

    if (v5) {
      ObjectNode params = HfConfigs.JSON.createObjectNode();
      JsonNode old = original.get("rope_parameters");
      if (old != null && old.has("partial_rotary_factor")) {
        params.set("partial_rotary_factor", old.get("partial_rotary_factor"));
      }
      params.put("rope_theta", theta);
      if (plan.scaling() == Scaling.NTK) {
        params.put("rope_type", "default");
      } else {
        params.setAll(scaling);
      }
      out.put("rope_parameters", sorted(params));
    } else {
      if (plan.scaling() == Scaling.NTK) {
        if (original.has("rope_scaling")) {
          out.putNull("rope_scaling");
        }
        out.put("rope_theta", theta);
      } else {
        out.put("rope_scaling", scaling);
      }
    }

    Integer removedWindow = null;
    if (!plan.keepSlidingWindow() && original.has("sliding_window") && !original.get("sliding_window").isNull()) {
      boolean alreadyOff = original.has("use_sliding_window") && !original.get("use_sliding_window").asBoolean();
      if (!alreadyOff) {
        removedWindow = original.get("sliding_window").asInt();
        out.putNull("sliding_window");
      }
    }

    ObjectNode record = HfConfigs.JSON.createObjectNode();
    record.put("method", "PoSE");
    record.put("original_context_length", plan.originalContextLength());
    record.put("target_context_length", plan.targetContextLength());
    record.put("rope_scaling", plan.scaling().wireName());
    record.put("factor", factor);
    if (plan.scaling() == Scaling.NTK) {
      record.put("base_rope_theta", rope.theta());
    }
    if (removedWindow != null) {
      record.put("removed_sliding_window", removedWindow);
    }
    out.put("pose_extension", record);
    return out.node();
  }

  /**
   * The RoPE a reader of the extended config computes: what the trainer must apply while training, so that the
   * published model behaves as trained.
   */
  public static RopeParameters extendedRope(ObjectNode original, Plan plan, String origin) {
    return HfConfigs.parse(extend(original, plan, origin), origin + " (extended)").rope();
  }

  /**
   * The factor of the extended model relative to its pretraining length. A base with plain RoPE takes the plan's
   * factor. A base already scaled with the same method is extended from its pretraining length (linear factors
   * multiply; yarn keeps its original_max_position_embeddings). Other combinations are refused.
   */
  private static double composedFactor(ModelConfig base, Plan plan, String origin) {
    RopeType existing = base.rope().type();
    if (existing == RopeType.DEFAULT) {
      return plan.resolvedFactor();
    }
    boolean same = (existing == RopeType.LINEAR && plan.scaling() == Scaling.LINEAR)
        || (existing == RopeType.YARN && plan.scaling() == Scaling.YARN);
    if (!same) {
      throw new ConfigException(origin + ": the base model already uses " + existing.wireName()
          + " RoPE scaling; extending it with " + plan.scaling().wireName()
          + " is not supported (extend a model with plain RoPE, or one scaled with the same method: linear or yarn)");
    }
    if (plan.factor() != null) {
      return plan.factor();
    }
    if (existing == RopeType.LINEAR) {
      return base.rope().factor() * plan.resolvedFactor();
    }
    return (double) plan.targetContextLength() / base.rope().originalMaxPositionEmbeddings();
  }

  private static void putIfSet(ObjectNode node, String key, Double value) {
    if (value != null) {
      node.put(key, value);
    }
  }

  private static ObjectNode sorted(ObjectNode node) {
    ObjectNode out = HfConfigs.JSON.createObjectNode();
    List<String> keys = new ArrayList<>();
    node.fieldNames().forEachRemaining(keys::add);
    keys.stream().sorted().forEach(k -> out.set(k, node.get(k)));
    return out;
  }

  /** Pretty JSON like transformers' to_json_string: 2-space indent, "key": value, final newline. */
  public static String toJson(ObjectNode node) {
    DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
        .withObjectIndenter(new DefaultIndenter("  ", "\n"))
        .withArrayIndenter(new DefaultIndenter("  ", "\n"))
        .withSeparators(com.fasterxml.jackson.core.util.Separators.createDefaultInstance()
            .withObjectFieldValueSpacing(com.fasterxml.jackson.core.util.Separators.Spacing.AFTER));
    try {
      return HfConfigs.JSON.writer(printer).writeValueAsString(pythonFloats(node)) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A copy whose floating-point numbers print as Python prints them. */
  private static JsonNode pythonFloats(JsonNode node) {
    if (node.isFloatingPointNumber()) {
      return HfConfigs.JSON.getNodeFactory().rawValueNode(
          new com.fasterxml.jackson.databind.util.RawValue(PythonFloats.repr(node.asDouble())));
    }
    if (node.isObject()) {
      ObjectNode out = HfConfigs.JSON.createObjectNode();
      node.fields().forEachRemaining(e -> out.set(e.getKey(), pythonFloats(e.getValue())));
      return out;
    }
    if (node.isArray()) {
      com.fasterxml.jackson.databind.node.ArrayNode out = HfConfigs.JSON.createArrayNode();
      node.forEach(v -> out.add(pythonFloats(v)));
      return out;
    }
    return node;
  }

  /**
   * Edits of a config that keep the key order: an existing key is replaced in place; a new key goes where it
   * sorts when the file's keys are sorted (as transformers writes them), else at the end.
   */
  private record Edits(ObjectNode node) {
    void put(String key, JsonNode value) {
      if (node.has(key)) {
        node.set(key, value);
        return;
      }
      List<String> keys = new ArrayList<>();
      node.fieldNames().forEachRemaining(keys::add);
      boolean sortedFile = keys.stream().sorted().toList().equals(keys);
      if (!sortedFile) {
        node.set(key, value);
        return;
      }
      ObjectNode copy = node.deepCopy();
      node.removeAll();
      boolean placed = false;
      for (String k : keys) {
        if (!placed && k.compareTo(key) > 0) {
          node.set(key, value);
          placed = true;
        }
        node.set(k, copy.get(k));
      }
      if (!placed) {
        node.set(key, value);
      }
    }

    void put(String key, int value) {
      put(key, HfConfigs.JSON.getNodeFactory().numberNode(value));
    }

    void put(String key, double value) {
      put(key, HfConfigs.JSON.getNodeFactory().numberNode(value));
    }

    void putNull(String key) {
      put(key, HfConfigs.JSON.getNodeFactory().nullNode());
    }
  }
}
