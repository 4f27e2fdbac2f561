package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.ModelConfig;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import io.pose.trainer.kernels.Ops;

/**
 * A Llama/Mistral/Qwen2 decoder on one device: embeddings, per layer RMSNorm -> attention with grouped-query heads
 * and RoPE at explicit position ids (any pose-core scaling) -> residual -> RMSNorm -> SwiGLU MLP -> residual,
 * final RMSNorm, LM head (tied or not). It knows nothing about parallelism: whatever wraps it decides where the
 * weights live.
 */
public final class Decoder {

  private final ModelConfig config;
  private final DecoderWeights weights;

  public Decoder(ModelConfig config, DecoderWeights weights) {
    this.config = config;
    this.weights = weights;
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * @param ids token ids [B, T] (int64)
   * @param positions position ids [B, T], which PoSE spreads far beyond T
   * @return logits [B, T, vocab]
   */
  public NDArray forward(NDArray ids, int[][] positions) {
    NDManager m = ids.getManager();
    int batch = positions.length;
    int length = positions[0].length;
    NDArray[] cosSin = rotary(m, positions);
    NDArray mask = Ops.causalMask(m, length, config.slidingWindow());

    NDArray x = Ops.embedding(weights.get("model.embed_tokens.weight"), ids);
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      NDArray normed = Ops.rmsNorm(x, weights.get(p + "input_layernorm.weight"), config.rmsNormEps());
      x = x.add(attention(normed, p, cosSin[0], cosSin[1], mask, batch, length));
      normed = Ops.rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"), config.rmsNormEps());
      x = x.add(mlp(normed, p));
    }
    x = Ops.rmsNorm(x, weights.get("model.norm.weight"), config.rmsNormEps());
    NDArray head = config.tieWordEmbeddings() ? weights.get("model.embed_tokens.weight") : weights.get("lm_head.weight");
    return Ops.linear(x, head);
  }

  private NDArray attention(NDArray x, String p, NDArray cos, NDArray sin, NDArray mask, int batch, int length) {
    NDManager m = x.getManager();
    int heads = config.numAttentionHeads();
    int kvHeads = config.numKeyValueHeads();
    int d = config.headDim();
    // [B, T, heads * d] -> [B, heads, T, d]
    NDArray q = Ops.linear(x, weights.get(p + "self_attn.q_proj.weight")).reshape(batch, length, heads, d).swapAxes(1, 2);
    NDArray k = Ops.linear(x, weights.get(p + "self_attn.k_proj.weight")).reshape(batch, length, kvHeads, d).swapAxes(1, 2);
    NDArray v = Ops.linear(x, weights.get(p + "self_attn.v_proj.weight")).reshape(batch, length, kvHeads, d).swapAxes(1, 2);
    q = Ops.applyRotary(q, cos, sin);
    k = Ops.applyRotary(k, cos, sin);
    if (kvHeads != heads) {
      // grouped-query attention: query head h reads key/value head h / (heads / kvHeads)
      k = k.repeat(1, heads / kvHeads);
      v = v.repeat(1, heads / kvHeads);
    }
    NDArray scores = q.matMul(k.swapAxes(2, 3)).mul(Ops.scalar(m, 1.0 / Math.sqrt(d))).add(mask);
    NDArray out = scores.softmax(-1).matMul(v); // [B, heads, T, d]
    out = out.swapAxes(1, 2).reshape(batch, length, (long) heads * d);
    return Ops.linear(out, weights.get(p + "self_attn.o_proj.weight"));
  }

  private NDArray mlp(NDArray x, String p) {
    NDArray gate = Ops.silu(Ops.linear(x, weights.get(p + "mlp.gate_proj.weight")));
    NDArray up = Ops.linear(x, weights.get(p + "mlp.up_proj.weight"));
    return Ops.linear(gate.mul(up), weights.get(p + "mlp.down_proj.weight"));
  }

  /** cos and sin [B, 1, T, d] from pose-core, with transformers' semantics for the positions of each row. */
  private NDArray[] rotary(NDManager m, int[][] positions) {
    int batch = positions.length;
    int length = positions[0].length;
    int d = config.rope().rotaryDim();
    if (d != config.headDim()) {
      throw new UnsupportedOperationException("partial rotary embeddings (rotary dim " + d + " of head dim "
          + config.headDim() + ") are not supported by this decoder");
    }
    float[] cos = new float[batch * length * d];
    float[] sin = new float[batch * length * d];
    // transformers takes the sequence length as max(position) + 1 over the whole batch
    int maxPosition = 0;
    for (int[] row : positions) {
      for (int pos : row) {
        maxPosition = Math.max(maxPosition, pos);
      }
    }
    RopeFrequencies f = Rope.forSequenceLength(config.rope(), maxPosition + 1);
    for (int b = 0; b < batch; b++) {
      Rope.CosSin cs = Rope.cosSin(f, positions[b]);
      System.arraycopy(cs.cos(), 0, cos, b * length * d, length * d);
      System.arraycopy(cs.sin(), 0, sin, b * length * d, length * d);
    }
    Shape shape = new Shape(batch, 1, length, d);
    return new NDArray[] {m.create(cos, shape), m.create(sin, shape)};
  }
}
