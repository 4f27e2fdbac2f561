package io.pose.trainer.train;

import io.pose.core.hf.ModelConfig;
import io.pose.trainer.kernels.ComputeType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The peak memory one rank of a run needs, predicted from the model config and the training settings before any GPU
 * time is spent: model states (the arithmetic of ZeRO, Rajbhandari et al. 2020, and of DeepSpeed's estimators) plus
 * what this trainer holds at its peak (whole units under ZeRO-3, the gradients of the unit in its backward,
 * activations, the logits of the loss, runtime overhead).
 *
 * <p>Model states are fp32 throughout: the weights are the master weights (the compute precision is applied at each
 * product), so a parameter costs 4 bytes of weights + 4 of gradients + 8 of AdamW moments = 16 bytes, divided over
 * the ranks by stage (1: moments; 2: + gradients; 3: + weights). DeepSpeed's mixed-precision layout costs 2 + 2 + 12
 * = 16 bytes as well, plus 2 bytes of fp32 gradient partition in its estimators (their 18): {@link #deepSpeedModelStates}.
 *
 * <p>Activations are counted per token and layer from the tensors this decoder keeps alive through a layer's
 * forward and backward (DJL holds every intermediate of a layer until the layer is done): with activation
 * recomputation, one layer's worth plus each layer's input; without, every layer's.
 *
 * @param inputs what the plan is for
 * @param lines the parts of the peak, in bytes
 */
public record MemoryPlan(Inputs inputs, List<Line> lines) {

  /** CUDA context, cuBLAS and NCCL workspaces on a GPU. */
  static final long GPU_RUNTIME_BYTES = 3L << 29; // 1.5 GiB
  /** Headroom for the caching allocator's fragmentation, as a fraction of the transient memory. */
  static final double FRAGMENTATION = 0.10;

  /**
   * What a plan is for.
   *
   * @param model the (extended) model config
   * @param world data-parallel ranks
   * @param zeroStage 0-3
   * @param compute the precision of products
   * @param microBatch samples per forward
   * @param window tokens per sample (the training window; the target length for full-length fine-tuning)
   * @param recompute activation recomputation
   * @param gpu whether the ranks are GPUs (runtime overhead)
   */
  public record Inputs(ModelConfig model, int world, int zeroStage, ComputeType compute, int microBatch, int window,
      boolean recompute, boolean gpu) {
    Inputs with(int world, int zeroStage, int microBatch, boolean recompute) {
      return new Inputs(model, world, zeroStage, compute, microBatch, window, recompute, gpu);
    }
  }

  /** A part of the peak: what it is, its bytes, how it is counted. */
  public record Line(String what, long bytes, String how) {}

  public static MemoryPlan of(Inputs in) {
    ShardLayout layout = ShardLayout.of(in.model(), in.world());
    ModelConfig c = in.model();
    int stage = in.zeroStage();
    long all = 0;
    long shards = 0;
    long largestLayer = 0;
    ShardLayout.Unit root = layout.units().get(0);
    for (ShardLayout.Unit u : layout.units()) {
      all += u.flatSize();
      shards += u.shardSize();
      if (u.index() > 0) {
        largestLayer = Math.max(largestLayer, u.flatSize());
      }
    }
    List<Line> lines = new ArrayList<>();
    String n = "/" + in.world();
    lines.add(new Line("weights (fp32 master)", 4 * (stage == 3 ? shards : all),
        stage == 3 ? "4 B x params" + n : "4 B x params"));
    lines.add(new Line("gradients (fp32)", 4 * (stage >= 2 ? shards : all),
        stage >= 2 ? "4 B x params" + n : "4 B x params"));
    lines.add(new Line("AdamW moments (fp32)", 8 * (stage >= 1 ? shards : all),
        stage >= 1 ? "8 B x params" + n : "8 B x params"));
    long gatheredBytes = 0;
    if (stage == 3) {
      long whole = in.recompute() ? root.flatSize() + 2 * largestLayer : all;
      gatheredBytes = 4 * whole;
      lines.add(new Line("gathered weights", gatheredBytes, in.recompute()
          ? "root unit + the layer running + the next one, prefetched" : "every layer, held by its forward graph"));
    }
    if (stage >= 2) {
      // a unit's leaf gradients, its packed copy, and the previous unit's copy still being reduce-scattered; the
      // root's gradients live from the head's backward to the embedding's
      long unitGrads = 4 * (3 * largestLayer + 2 * root.flatSize());
      lines.add(new Line("unit gradients in flight", unitGrads, "leaf + packed + scattering, one layer; the root's"));
    } else {
      lines.add(new Line("gradient packing", 4 * Math.max(largestLayer, root.flatSize()),
          "one unit's flat copy at the step's end"));
    }
    // the fused AdamW update's denominators, for a group of at most AdamW.GROUP_ELEMENTS of this rank's elements
    long updated = stage >= 1 ? shards : all;
    lines.add(new Line("AdamW update", 4 * Math.min(updated, AdamW.GROUP_ELEMENTS),
        "the update's temporaries (one group of at most 64M values)"));
    long tokens = (long) in.microBatch() * in.window();
    long perLayer = activationBytesPerToken(c, in.compute()) * tokens;
    long boundaries = 4L * c.hiddenSize() * tokens; // a layer's input (fp32 residual stream)
    long weightCasts = in.compute() == ComputeType.FP32 ? 0 : largestLayerCastBytes(c, in.compute());
    long activations = in.recompute()
        ? (c.numHiddenLayers() + 2L) * boundaries + 2 * perLayer + weightCasts
        : c.numHiddenLayers() * (perLayer + boundaries + weightCasts) + perLayer;
    lines.add(new Line("activations", activations, in.recompute()
        ? "each layer's input + one layer's forward and backward"
        : "every layer's forward, one layer's backward"));
    long logits = (long) (in.compute() == ComputeType.FP32 ? 16 : 20) * c.vocabSize() * tokens
        + (in.compute() == ComputeType.FP32 ? 0 : (long) in.compute().bytes() * c.vocabSize() * c.hiddenSize());
    lines.add(new Line("logits and loss", logits, "logits, log-softmax and their gradients over the vocabulary"));
    long transient_ = activations + logits + gatheredBytes;
    lines.add(new Line("allocator headroom", (long) (FRAGMENTATION * transient_), "10% of the transient memory"));
    if (in.gpu()) {
      lines.add(new Line("CUDA runtime", GPU_RUNTIME_BYTES, "context, cuBLAS and NCCL workspaces"));
    }
    return new MemoryPlan(in, List.copyOf(lines));
  }

  /**
   * Bytes a decoder layer keeps per token through its forward and backward: the tensors DJL holds (each op's
   * output) and those autograd saves inside the fused ops (autocast copies of the inputs of products in the compute
   * precision, RMSNorm's normalized input, SiLU's output, attention's log-sum-exp).
   */
  static long activationBytesPerToken(ModelConfig c, ComputeType compute) {
    long h = c.hiddenSize();
    long q = (long) c.numAttentionHeads() * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long i = c.intermediateSize();
    long b = compute.bytes();
    boolean casts = compute != ComputeType.FP32;
    // residual stream and norms in fp32: input, normed x2, the two normalized intermediates, the two residual sums
    long fp32 = 4 * (6 * h);
    // products' outputs in the compute type: o_proj and down_proj
    long outs = b * (2 * h);
    // autocast copies of the normed inputs of q, k, v (three casts) and of gate, up (two)
    long inputCasts = casts ? b * 5 * h : 0;
    // q and k: projection (compute type), rotated (fp32), cast back for attention; v; the attention output and its
    // [B, T, heads x d] copy
    long attention = b * q + 4 * q + (casts ? b * q : 0) + b * kv + 4 * kv + (casts ? b * kv : 0) + b * kv
        + 2 * b * q + 4L * c.numAttentionHeads();
    // gate, up, silu(gate), their product
    long mlp = 4 * b * i;
    return fp32 + outs + inputCasts + attention + mlp;
  }

  /** The compute-type copies of one layer's weights that its products keep for the backward (autocast's cast cache). */
  static long largestLayerCastBytes(ModelConfig c, ComputeType compute) {
    long h = c.hiddenSize();
    long q = (long) c.numAttentionHeads() * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long i = c.intermediateSize();
    return compute.bytes() * (h * q + 2 * h * kv + q * h + 3 * h * i);
  }

  /** The total peak, bytes. */
  public long total() {
    return lines.stream().mapToLong(Line::bytes).sum();
  }

  /** Weights + gradients + optimizer states (what the ZeRO paper calls model states), bytes. */
  public long modelStates() {
    return lines.get(0).bytes() + lines.get(1).bytes() + lines.get(2).bytes();
  }

  /**
   * DeepSpeed's estimate of model-state memory per GPU without offloading
   * (deepspeed.runtime.zero: estimate_zero2_model_states_mem_needs, estimate_zero3_model_states_mem_needs):
   * ZeRO-2: 2 P + 18 P / N; ZeRO-3: 4 x largest layer + 18 P / N, where the largest layer is the module with the
   * most parameters of its own (an embedding or the LM head for these models).
   */
  public static long deepSpeedModelStates(ModelConfig c, int zeroStage, int gpus) {
    long params = totalParameters(c);
    long largestModule = (long) c.vocabSize() * c.hiddenSize();
    largestModule = Math.max(largestModule, (long) c.intermediateSize() * c.hiddenSize());
    return switch (zeroStage) {
      case 2 -> 2 * params + (long) (18.0 * params / gpus);
      case 3 -> 4 * largestModule + (long) (18.0 * params / gpus);
      default -> throw new IllegalArgumentException("DeepSpeed's estimators cover ZeRO 2 and 3, not " + zeroStage);
    };
  }

  /** Parameters of the model (a tied head counted once). */
  public static long totalParameters(ModelConfig c) {
    return io.pose.trainer.model.DecoderWeights.expectedShapes(c).values().stream()
        .mapToLong(s -> java.util.Arrays.stream(s).reduce(1, (a, b) -> a * b)).sum();
  }

  /** The plan as a table, against a device's memory when known (0: unknown). */
  public String table(long deviceBytes) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "memory plan per rank (%d rank%s, ZeRO %d, %s, micro batch %d x %d tokens, "
            + "recomputation %s):%n", inputs.world(), inputs.world() == 1 ? "" : "s", inputs.zeroStage(), inputs.compute().name().toLowerCase(Locale.ROOT),
        inputs.microBatch(), inputs.window(), inputs.recompute() ? "on" : "off"));
    for (Line l : lines) {
      b.append(String.format(Locale.ROOT, "  %-26s %10s   %s%n", l.what(), gib(l.bytes()), l.how()));
    }
    b.append(String.format(Locale.ROOT, "  %-26s %10s%s%n", "peak", gib(total()),
        deviceBytes > 0 ? String.format(Locale.ROOT, "   of %s (%.0f%%)", gib(deviceBytes), 100.0 * total() / deviceBytes)
            : ""));
    return b.toString();
  }

  /** Bytes in GiB, MiB or KiB, whichever reads best. */
  public static String gib(long bytes) {
    if (bytes >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
    if (bytes >= 1L << 20) {
      return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
    return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
  }

  /**
   * Settings that would fit a device of this size, each with the spec field to change and its peak: a higher ZeRO
   * stage, recomputation, a smaller micro batch, more ranks (a multiple of ranksPerNode). Empty when nothing tried
   * fits.
   */
  public List<String> alternatives(long deviceBytes, int ranksPerNode) {
    List<String> out = new ArrayList<>();
    Inputs in = inputs;
    for (int stage = in.zeroStage() + 1; stage <= 3; stage++) {
      MemoryPlan p = of(in.with(in.world(), stage, in.microBatch(), in.recompute()));
      if (p.total() <= deviceBytes) {
        out.add("spec.training.zeroStage: " + stage + " (" + gib(p.total()) + ")");
        break;
      }
    }
    if (!in.recompute()) {
      MemoryPlan p = of(in.with(in.world(), in.zeroStage(), in.microBatch(), true));
      if (p.total() <= deviceBytes) {
        out.add("spec.training.activationCheckpointing: true (" + gib(p.total()) + ")");
      }
    }
    for (int micro = in.microBatch() / 2; micro >= 1; micro /= 2) {
      MemoryPlan p = of(in.with(in.world(), in.zeroStage(), micro, in.recompute()));
      if (p.total() <= deviceBytes) {
        out.add("spec.training.microBatchSize: " + micro + " (" + gib(p.total()) + ")");
        break;
      }
    }
    int step = Math.max(1, ranksPerNode);
    for (int world = in.world() + step; world <= 1024; world += step) {
      MemoryPlan p = of(in.with(world, Math.max(in.zeroStage(), 3), in.microBatch(), in.recompute()));
      if (p.total() <= deviceBytes) {
        out.add(world / step + " nodes of " + step + " ranks at ZeRO 3 (" + gib(p.total()) + "; spec.resources.nodes: "
            + world / step + ", spec.training.zeroStage: 3)");
        break;
      }
    }
    return out;
  }
}
