package io.pose.trainer.kernels;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The operations the decoder is made of, in differentiable DJL form. The one place that knows DJL's pitfalls
 * (shared/FIELD-NOTES.md): arithmetic with a Java number creates a scalar over Java memory that autograd may read
 * after it is freed, so every constant here is a tensor owned by the graph's manager.
 */
public final class Ops {
  private Ops() {}

  /** A 0-d fp32 tensor: the safe way to multiply or add a constant in a differentiated graph. */
  public static NDArray scalar(NDManager manager, double value) {
    return manager.full(new Shape(), (float) value, DataType.FLOAT32);
  }

  /** y = x W^T, the Hugging Face Linear without bias (W is [out, in]). */
  public static NDArray linear(NDArray x, NDArray weight) {
    return x.matMul(weight.transpose());
  }

  /**
   * RMSNorm as Llama computes it: x / sqrt(mean(x^2) + eps), then times the weight.
   *
   * @param x [..., hidden]
   * @param weight [hidden]
   */
  public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
    NDManager m = x.getManager();
    NDArray variance = x.mul(x).mean(new int[] {-1}, true);
    return x.div(variance.add(scalar(m, eps)).sqrt()).mul(weight);
  }

  /** SiLU: x * sigmoid(x). */
  public static NDArray silu(NDArray x) {
    NDManager m = x.getManager();
    return x.div(scalar(m, 1).add(x.neg().exp()));
  }

  /** Half-split rotation: concat(-x[d/2:], x[:d/2]) over the last axis (the layout of HF Llama/Mistral weights). */
  public static NDArray rotateHalf(NDArray x) {
    int last = x.getShape().dimension() - 1; // DJL's split and concat take no negative axis
    NDList halves = x.split(2, last);
    return NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), last);
  }

  /** x * cos + rotate_half(x) * sin, with cos and sin broadcast over heads ([B, 1, T, d] against [B, H, T, d]). */
  public static NDArray applyRotary(NDArray x, NDArray cos, NDArray sin) {
    return x.mul(cos).add(rotateHalf(x).mul(sin));
  }

  /** The same mask as booleans (true: may attend), which attention accepts in any compute type. */
  public static NDArray causalMaskBool(NDManager manager, int length, Integer slidingWindow) {
    boolean[] mask = new boolean[length * length];
    for (int i = 0; i < length; i++) {
      for (int j = 0; j < length; j++) {
        mask[i * length + j] = j <= i && (slidingWindow == null || i - j < slidingWindow);
      }
    }
    return manager.create(mask, new Shape(length, length));
  }

  /**
   * Boolean attention mask [n, offset + n] for n queries at token indices offset..offset+n-1 over all keys so far:
   * true where query i may attend to key j (j <= offset + i, and offset + i - j < window when a sliding window is
   * set). What an incremental forward over a key/value cache needs.
   */
  public static NDArray causalMaskBool(NDManager manager, int queries, int offset, Integer slidingWindow) {
    int keys = offset + queries;
    boolean[] mask = new boolean[queries * keys];
    for (int i = 0; i < queries; i++) {
      int q = offset + i;
      for (int j = 0; j < keys; j++) {
        mask[i * keys + j] = j <= q && (slidingWindow == null || q - j < slidingWindow);
      }
    }
    return manager.create(mask, new Shape(queries, keys));
  }

  /** Rows of an embedding matrix for token ids [B, T] (int64): [B, T, hidden]. */
  public static NDArray embedding(NDArray weight, NDArray ids) {
    Shape shape = ids.getShape();
    NDArray rows = weight.get(new NDIndex("{}", ids.reshape(-1)));
    return rows.reshape(shape.get(0), shape.get(1), weight.getShape().get(1));
  }

  /**
   * Causal language-model loss as transformers computes it: logits[:, :-1] predict labels[:, 1:], labels of -100
   * are ignored, the mean is over the counted tokens.
   *
   * @param logits [B, T, V]
   * @param labels [B, T] int64
   */
  public static NDArray causalLmLoss(NDArray logits, NDArray labels) {
    return causalLmLoss(logits, labels, false);
  }

  /** The same loss through the fused cross-entropy kernel (what training uses). */
  public static NDArray causalLmLossFused(NDArray logits, NDArray labels) {
    return causalLmLoss(logits, labels, true);
  }

  private static NDArray causalLmLoss(NDArray logits, NDArray labels, boolean fused) {
    NDManager m = logits.getManager();
    long b = logits.getShape().get(0);
    long t = logits.getShape().get(1);
    long v = logits.getShape().get(2);
    NDArray shiftedLabels = labels.get(new NDIndex(":, 1:")).reshape(b * (t - 1));
    long[] raw = shiftedLabels.toLongArray();
    long[] safe = new long[raw.length];
    float[] keep = new float[raw.length];
    int counted = 0;
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] != -100) {
        safe[i] = raw[i];
        keep[i] = 1f;
        counted++;
      }
    }
    if (counted == 0) {
      throw new IllegalArgumentException("every label is ignored (-100): nothing to learn from this batch");
    }
    if (fused) {
      return FusedOps.causalLmLoss(logits, labels);
    }
    NDArray shiftedLogits = logits.get(new NDIndex(":, :-1, :")).reshape(b * (t - 1), v);
    NDArray logProbs = shiftedLogits.logSoftmax(-1);
    NDArray picked = logProbs.get(new NDIndex().addAllDim().addPickDim(m.create(safe).reshape(raw.length, 1)))
        .reshape(raw.length);
    NDArray mask = m.create(keep);
    return picked.mul(mask).sum().neg().div(scalar(m, counted));
  }

}
