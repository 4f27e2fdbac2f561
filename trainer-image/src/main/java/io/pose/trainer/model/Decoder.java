package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.ModelConfig;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.FusedOps;
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
  private final ComputeType compute;

  /** A decoder computing in fp32. */
  public Decoder(ModelConfig config, DecoderWeights weights) {
    this(config, weights, ComputeType.FP32);
  }

  /**
   * @param compute the precision of linear layers and attention (autocast semantics: see {@link ComputeType})
   */
  public Decoder(ModelConfig config, DecoderWeights weights, ComputeType compute) {
    this.config = config;
    this.weights = weights;
    this.compute = compute;
  }

  public ComputeType compute() {
    return compute;
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * @param ids token ids [B, T] (int64)
   * @param positions position ids [B, T], which PoSE spreads far beyond T
   * @return logits [B, T, vocab], fp32 whatever the compute type (the loss is computed in fp32)
   */
  public NDArray forward(NDArray ids, int[][] positions) {
    NDManager m = ids.getManager();
    int batch = positions.length;
    int length = positions[0].length;
    NDArray[] cosSin = rotary(m, positions);
    // a sliding window shorter than the sequence needs an explicit mask; otherwise causal attention is exact
    NDArray mask = config.slidingWindow() != null && config.slidingWindow() < length
        ? Ops.causalMaskBool(m, length, config.slidingWindow()) : null;

    NDArray x = FusedOps.embedding(weights.get("model.embed_tokens.weight"), ids);
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      NDArray normed = FusedOps.rmsNorm(x, weights.get(p + "input_layernorm.weight"), config.rmsNormEps());
      x = x.add(attention(normed, p, cosSin[0], cosSin[1], mask, batch, length));
      normed = FusedOps.rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"), config.rmsNormEps());
      x = x.add(mlp(normed, p));
    }
    x = FusedOps.rmsNorm(x, weights.get("model.norm.weight"), config.rmsNormEps());
    NDArray head = config.tieWordEmbeddings() ? weights.get("model.embed_tokens.weight") : weights.get("lm_head.weight");
    NDArray logits = FusedOps.linear(x, head, compute);
    return compute == ComputeType.FP32 ? logits : FusedOps.cast(logits, FusedOps.FLOAT32);
  }

  private NDArray attention(NDArray x, String p, NDArray cos, NDArray sin, NDArray mask, int batch, int length) {
    int heads = config.numAttentionHeads();
    int kvHeads = config.numKeyValueHeads();
    int d = config.headDim();
    // [B, T, heads * d] -> [B, heads, T, d]
    NDArray q = FusedOps.linear(x, weights.get(p + "self_attn.q_proj.weight"), compute)
        .reshape(batch, length, heads, d).swapAxes(1, 2);
    NDArray k = FusedOps.linear(x, weights.get(p + "self_attn.k_proj.weight"), compute)
        .reshape(batch, length, kvHeads, d).swapAxes(1, 2);
    NDArray v = FusedOps.linear(x, weights.get(p + "self_attn.v_proj.weight"), compute)
        .reshape(batch, length, kvHeads, d).swapAxes(1, 2);
    // cos and sin are fp32: as in transformers under autocast, the rotated q and k are promoted to fp32
    q = FusedOps.rotary(q, cos, sin);
    k = FusedOps.rotary(k, cos, sin);
    // grouped-query attention (query head h reads key/value head h / (heads / kvHeads)) happens inside the kernel
    double scale = 1.0 / Math.sqrt(d);
    NDArray out = mask == null ? FusedOps.attention(q, k, v, scale, compute)
        : FusedOps.attention(q, k, v, mask, scale, compute);
    out = out.swapAxes(1, 2).reshape(batch, length, (long) heads * d); // [B, heads, T, d] -> [B, T, heads * d]
    return FusedOps.linear(out, weights.get(p + "self_attn.o_proj.weight"), compute);
  }

  private NDArray mlp(NDArray x, String p) {
    NDArray gate = FusedOps.linear(x, weights.get(p + "mlp.gate_proj.weight"), compute);
    NDArray up = FusedOps.linear(x, weights.get(p + "mlp.up_proj.weight"), compute);
    return FusedOps.linear(FusedOps.swiglu(gate, up), weights.get(p + "mlp.down_proj.weight"), compute);
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
