package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.TensorInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parameters of a Llama/Mistral/Qwen2 decoder, by their Hugging Face names, loaded as fp32 (bf16 and fp16
 * checkpoints are widened without DJL's bf16 path, which aborts the JVM). Every tensor the architecture needs must
 * be present with the shape the config implies; anything else is an error naming the tensor.
 */
public final class DecoderWeights implements Parameters {

  private final Map<String, NDArray> byName;

  private DecoderWeights(Map<String, NDArray> byName) {
    this.byName = byName;
  }

  /** The names and shapes a model of this config has (Linear weights are [out, in]). */
  public static Map<String, long[]> expectedShapes(ModelConfig c) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    long h = c.hiddenSize();
    long q = (long) c.numAttentionHeads() * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long inter = c.intermediateSize();
    shapes.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h}); // [vocab, hidden]
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      shapes.put(p + "input_layernorm.weight", new long[] {h});
      shapes.put(p + "self_attn.q_proj.weight", new long[] {q, h}); // [heads * head_dim, hidden]
      shapes.put(p + "self_attn.k_proj.weight", new long[] {kv, h}); // [kv_heads * head_dim, hidden]
      shapes.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
      shapes.put(p + "self_attn.o_proj.weight", new long[] {h, q}); // [hidden, heads * head_dim]
      shapes.put(p + "post_attention_layernorm.weight", new long[] {h});
      shapes.put(p + "mlp.gate_proj.weight", new long[] {inter, h}); // [intermediate, hidden]
      shapes.put(p + "mlp.up_proj.weight", new long[] {inter, h});
      shapes.put(p + "mlp.down_proj.weight", new long[] {h, inter}); // [hidden, intermediate]
    }
    shapes.put("model.norm.weight", new long[] {h});
    if (!c.tieWordEmbeddings()) {
      shapes.put("lm_head.weight", new long[] {c.vocabSize(), h}); // [vocab, hidden]
    }
    return shapes;
  }

  /**
   * The parameters by unit, in forward order (see {@link Parameters}): unit 0 the embedding, final norm and LM head
   * (when not tied), unit l + 1 decoder layer l; within a unit, checkpoint order. What ZeRO shards and gathers as one.
   */
  public static List<List<String>> units(ModelConfig c) {
    List<List<String>> units = new ArrayList<>();
    List<String> root = new ArrayList<>();
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      units.add(new ArrayList<>());
    }
    for (String name : expectedShapes(c).keySet()) {
      if (name.startsWith("model.layers.")) {
        int layer = Integer.parseInt(name.substring("model.layers.".length(), name.indexOf('.', "model.layers.".length())));
        units.get(layer).add(name);
      } else {
        root.add(name);
      }
    }
    units.add(0, root);
    return units;
  }

  /** Loads every parameter of the config from a checkpoint into the manager (fp32). */
  public static DecoderWeights load(ModelConfig config, Checkpoint checkpoint, NDManager manager) throws IOException {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
      String name = e.getKey();
      if (!checkpoint.has(name)) {
        throw new CheckpointException(checkpoint.directory() + ": tensor " + name + " is missing (the config describes "
            + config.numHiddenLayers() + " layers of " + config.modelType() + ")");
      }
      TensorInfo info = checkpoint.info(name);
      if (!Arrays.equals(info.shape(), e.getValue())) {
        throw new CheckpointException(checkpoint.directory() + ": tensor " + name + " has shape "
            + Arrays.toString(info.shape()) + ", the config implies " + Arrays.toString(e.getValue()));
      }
      out.put(name, manager.create(checkpoint.floats(name), new Shape(e.getValue())));
    }
    return new DecoderWeights(out);
  }

  @Override
  public NDArray get(String name) {
    NDArray a = byName.get(name);
    if (a == null) {
      throw new IllegalArgumentException("no parameter " + name);
    }
    return a;
  }

  /** Every parameter, in checkpoint order. */
  public Map<String, NDArray> all() {
    return byName;
  }
}
