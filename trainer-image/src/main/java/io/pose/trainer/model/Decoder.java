package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.ModelConfig;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import io.pose.trainer.kernels.Autograd;
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
  private final Parameters weights;
  private final ComputeType compute;

  /** A decoder computing in fp32. */
  public Decoder(ModelConfig config, Parameters weights) {
    this(config, weights, ComputeType.FP32);
  }

  /**
   * @param compute the precision of linear layers and attention (autocast semantics: see {@link ComputeType})
   */
  public Decoder(ModelConfig config, Parameters weights, ComputeType compute) {
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
    Context c = context(ids.getManager(), positions);
    NDArray x = embed(ids);
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      x = layer(l, x, c);
    }
    return head(x);
  }

  /**
   * Forward and backward of the causal language-model loss for one micro-batch; the gradients accumulate into the
   * weights. With recomputation, the forward keeps only each layer's input (one [B, T, hidden] tensor per layer)
   * and the backward recomputes one layer at a time, so activation memory is that of a single layer; the
   * gradients are the same (DecoderRecomputationTest). Parameters that shard gradients ({@link Parameters#layerwise})
   * get a backward one layer at a time even without recomputation, each layer's graph kept from its forward.
   *
   * @param lossMultiplier what the loss is multiplied by before the backward (1 / micro-batches x the loss scale)
   * @param recompute recompute each layer's activations in the backward instead of keeping them all
   * @return the loss of the micro-batch (not multiplied)
   */
  public double lossAndGradients(NDArray ids, int[][] positions, NDArray labels, double lossMultiplier,
      boolean recompute) {
    NDManager m = ids.getManager();
    Context c = context(m, positions);
    int layers = config.numHiddenLayers();
    if (!recompute && !weights.layerwise()) {
      for (int u = 0; u <= layers; u++) {
        weights.beforeForward(u);
      }
      double result = Autograd.recording(true, () -> {
        NDArray loss = Ops.causalLmLossFused(head(layers(embed(ids), c)), labels);
        Autograd.backward(lossMultiplier == 1.0 ? loss : loss.mul(Ops.scalar(m, lossMultiplier)));
        return (double) loss.getFloat();
      });
      for (int u = layers; u >= 0; u--) {
        weights.afterBackward(u);
      }
      return result;
    }
    weights.beforeForward(Parameters.ROOT);
    NDArray[] inputs = new NDArray[layers + 1];
    inputs[0] = inLayerScope(ids, i -> Autograd.outside(Autograd.recording(false, () -> embed(i))));
    // without recomputation, each layer's forward graph lives in a scope of its own until its backward
    NDManager[] scopes = recompute ? null : new NDManager[layers];
    NDArray[] leaves = recompute ? null : new NDArray[layers];
    for (int l = 0; l < layers; l++) {
      int layer = l;
      weights.beforeForward(Parameters.layerUnit(l));
      if (recompute) {
        inputs[l + 1] = inLayerScope(inputs[l], x -> Autograd.outside(Autograd.recording(false, () -> layer(layer, x, c))));
      } else {
        scopes[l] = m.newSubManager();
        NDArray input = inputs[l];
        input.attach(scopes[l]);
        try {
          leaves[l] = Autograd.leaf(input);
          inputs[l + 1] = Autograd.recording(true, () -> layer(layer, leaves[layer], c));
        } finally {
          input.attach(m);
        }
      }
      weights.afterForward(Parameters.layerUnit(l));
    }
    // the head, then each layer from the last: (recompute and) backward with the gradient from above
    double[] loss = new double[1];
    NDArray upstream = inLayerScope(inputs[layers], x -> Autograd.recording(true, () -> {
      NDArray leaf = Autograd.leaf(x);
      NDArray l = Ops.causalLmLossFused(head(leaf), labels);
      Autograd.backward(lossMultiplier == 1.0 ? l : l.mul(Ops.scalar(l.getManager(), lossMultiplier)));
      loss[0] = l.getFloat();
      return leaf.getGradient();
    }));
    for (int l = layers - 1; l >= 0; l--) {
      int layer = l;
      NDArray fromAbove = upstream;
      weights.beforeBackward(Parameters.layerUnit(l));
      if (recompute) {
        upstream = inLayerScope(inputs[l], x -> Autograd.recording(true, () -> {
          NDArray leaf = Autograd.leaf(x);
          Autograd.backward(layer(layer, leaf, c), fromAbove);
          return leaf.getGradient();
        }));
      } else {
        NDArray output = inputs[l + 1];
        upstream = Autograd.recording(true, () -> {
          Autograd.backward(output, fromAbove);
          return leaves[layer].getGradient();
        });
        upstream.attach(m);
        scopes[l].close(); // the layer's activations and graph
      }
      fromAbove.close();
      weights.afterBackward(Parameters.layerUnit(l));
    }
    NDArray fromFirstLayer = upstream;
    Autograd.recording(true, () -> {
      Autograd.backward(embed(ids), fromFirstLayer);
      return null;
    });
    weights.afterBackward(Parameters.ROOT);
    return loss[0];
  }

  /**
   * Inference over a key/value cache: runs ids [1, n] at the positions that follow what the cache holds
   * ({@code cache.length()} .. {@code cache.length() + n - 1}), appends their keys and values to the cache, and
   * returns their hidden states [1, n, hidden] before the final norm (see {@link #logits}). Running a sequence in
   * blocks gives the logits of one forward over all of it; attention then costs [n, cache length] per block
   * instead of [T, T], which is what lets a 32k-token prompt through on one device.
   *
   * @param frequencies the RoPE frequencies to rotate with: transformers computes them once per forward from the
   *     longest position of that forward (which matters for dynamic scaling only), so a prompt run in blocks passes
   *     those of the whole prompt, and each decoding step those of its own position
   */
  public NDArray forwardCached(NDArray ids, KvCache cache, RopeFrequencies frequencies) {
    NDManager m = ids.getManager();
    if (ids.getShape().get(0) != 1) {
      throw new IllegalArgumentException("cached inference runs one sequence, not " + ids.getShape());
    }
    int n = Math.toIntExact(ids.getShape().get(1));
    int offset = cache.length();
    int d = requireFullRotary();
    int[] positions = new int[n];
    for (int i = 0; i < n; i++) {
      positions[i] = offset + i;
    }
    Rope.CosSin cs = Rope.cosSin(frequencies, positions);
    Shape shape = new Shape(1, 1, n, d);
    NDArray cos = m.create(cs.cos(), shape);
    NDArray sin = m.create(cs.sin(), shape);
    Integer window = config.slidingWindow();
    // the first block of a sequence, with no window inside it, is plain causal attention; otherwise the queries
    // see the cache and themselves through an explicit mask (a single query: every key in its window)
    NDArray mask = offset == 0 && (window == null || window >= n) ? null : Ops.causalMaskBool(m, n, offset, window);
    NDArray x = embed(ids);
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      NDArray normed = FusedOps.rmsNorm(x, weights.get(p + "input_layernorm.weight"), config.rmsNormEps());
      NDArray[] qkv = projections(normed, p, cos, sin, 1, n);
      // the cache holds fp32 (keys are fp32 after RoPE; values come from a bf16/fp16 product under autocast and are
      // widened in the engine: DJL 0.36 aborts the JVM on any bf16 dtype query); attention casts them back
      NDArray k = cache.appendKeys(l, qkv[1]);
      NDArray v = cache.appendValues(l, compute == ComputeType.FP32 ? qkv[2] : FusedOps.cast(qkv[2], FusedOps.FLOAT32));
      x = x.add(attend(qkv[0], k, v, p, mask, 1, n));
      normed = FusedOps.rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"), config.rmsNormEps());
      x = x.add(mlp(normed, p));
    }
    cache.advance(n);
    return x;
  }

  /** The final norm and LM head over hidden states from {@link #forwardCached}: logits in fp32. */
  public NDArray logits(NDArray hidden) {
    return head(hidden);
  }

  /** An empty key/value cache for up to capacity tokens, its tensors owned by a child of the given manager. */
  public KvCache newCache(NDManager manager, int capacity) {
    return new KvCache(manager, config.numHiddenLayers(), capacity);
  }

  /** What every layer of one forward shares: RoPE at the batch's positions, the attention mask, the shape. */
  private record Context(NDArray cos, NDArray sin, NDArray mask, int batch, int length) {}

  private Context context(NDManager m, int[][] positions) {
    int length = positions[0].length;
    NDArray[] cosSin = rotary(m, positions);
    // a sliding window shorter than the sequence needs an explicit mask; otherwise causal attention is exact
    NDArray mask = config.slidingWindow() != null && config.slidingWindow() < length
        ? Ops.causalMaskBool(m, length, config.slidingWindow()) : null;
    return new Context(cosSin[0], cosSin[1], mask, positions.length, length);
  }

  private NDArray embed(NDArray ids) {
    return FusedOps.embedding(weights.get("model.embed_tokens.weight"), ids);
  }

  private NDArray layers(NDArray x, Context c) {
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      x = layer(l, x, c);
    }
    return x;
  }

  /** One decoder layer: x + attention(norm(x)), then + mlp(norm(.)). */
  private NDArray layer(int l, NDArray x, Context c) {
    String p = "model.layers." + l + ".";
    NDArray normed = FusedOps.rmsNorm(x, weights.get(p + "input_layernorm.weight"), config.rmsNormEps());
    x = x.add(attention(normed, p, c.cos(), c.sin(), c.mask(), c.batch(), c.length()));
    normed = FusedOps.rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"), config.rmsNormEps());
    return x.add(mlp(normed, p));
  }

  /** Final norm and LM head: logits in fp32. */
  private NDArray head(NDArray x) {
    x = FusedOps.rmsNorm(x, weights.get("model.norm.weight"), config.rmsNormEps());
    NDArray head = config.tieWordEmbeddings() ? weights.get("model.embed_tokens.weight") : weights.get("lm_head.weight");
    NDArray logits = FusedOps.linear(x, head, compute);
    return compute == ComputeType.FP32 ? logits : FusedOps.cast(logits, FusedOps.FLOAT32);
  }

  /**
   * Runs a step on x inside a scope of its own, so everything it creates is freed when it ends; only the result
   * (moved to x's manager) survives.
   */
  private static NDArray inLayerScope(NDArray x, java.util.function.Function<NDArray, NDArray> step) {
    NDManager parent = x.getManager();
    try (NDManager scope = parent.newSubManager()) {
      x.attach(scope);
      try {
        NDArray out = step.apply(x);
        out.attach(parent);
        return out;
      } finally {
        x.attach(parent);
      }
    }
  }

  private NDArray attention(NDArray x, String p, NDArray cos, NDArray sin, NDArray mask, int batch, int length) {
    NDArray[] qkv = projections(x, p, cos, sin, batch, length);
    return attend(qkv[0], qkv[1], qkv[2], p, mask, batch, length);
  }

  /** Queries, keys and values of x: [B, heads, T, d], [B, kvHeads, T, d] twice, queries and keys rotated. */
  private NDArray[] projections(NDArray x, String p, NDArray cos, NDArray sin, int batch, int length) {
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
    return new NDArray[] {q, k, v};
  }

  /**
   * Attention of queries [B, heads, T, d] over keys and values [B, kvHeads, S, d] (S = T, or the cache), causal
   * when mask is null, then the output projection: [B, T, hidden].
   */
  private NDArray attend(NDArray q, NDArray k, NDArray v, String p, NDArray mask, int batch, int length) {
    int heads = config.numAttentionHeads();
    int d = config.headDim();
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

  private int requireFullRotary() {
    int d = config.rope().rotaryDim();
    if (d != config.headDim()) {
      throw new UnsupportedOperationException("partial rotary embeddings (rotary dim " + d + " of head dim "
          + config.headDim() + ") are not supported by this decoder");
    }
    return d;
  }

  /** cos and sin [B, 1, T, d] from pose-core, with transformers' semantics for the positions of each row. */
  private NDArray[] rotary(NDManager m, int[][] positions) {
    int batch = positions.length;
    int length = positions[0].length;
    int d = requireFullRotary();
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
