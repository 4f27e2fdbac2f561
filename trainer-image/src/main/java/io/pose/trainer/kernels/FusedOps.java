package io.pose.trainer.kernels;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.PoseModuleAccess;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The fused operations DJL's API lacks (scaled-dot-product attention, cross-entropy with an ignore index, RMSNorm,
 * SwiGLU, rotary embedding, embedding lookup, dtype casts), as methods of a TorchScript module. The module's
 * source is {@link #SOURCE} below; {@link #archive()} packs it the way torch.jit.save does (a zip of the code, a
 * pickled module object and the format version), and libtorch compiles it when it is loaded, so building it needs
 * no Python. Methods run with autograd on when the calling thread records, so gradients flow through them like
 * through any DJL op (FusedOpsTest checks values and gradients against the plain formulations in {@link Ops}).
 */
public final class FusedOps {
  private FusedOps() {}

  /** libtorch's dtype codes, written as integers in TorchScript. */
  public static final int FLOAT16 = 5;
  public static final int FLOAT32 = 6;
  public static final int BFLOAT16 = 15;

  /** The module, in the serialized TorchScript dialect (what torch.jit.save writes into code/__torch__.py). */
  static final String SOURCE = """
      class PoseOps(Module):
        __parameters__ = []
        __buffers__ = []
        training : bool
        def forward(self: __torch__.PoseOps,
          x: Tensor) -> Tensor:
          return x
        def attention(self: __torch__.PoseOps,
          q: Tensor,
          k: Tensor,
          v: Tensor,
          scale: float) -> Tensor:
          return torch.scaled_dot_product_attention(q, k, v, None, 0., True, scale=scale, enable_gqa=True)
        def attention_masked(self: __torch__.PoseOps,
          q: Tensor,
          k: Tensor,
          v: Tensor,
          mask: Tensor,
          scale: float) -> Tensor:
          return torch.scaled_dot_product_attention(q, k, v, mask, 0., False, scale=scale, enable_gqa=True)
        def linear_as(self: __torch__.PoseOps,
          x: Tensor,
          weight: Tensor,
          dtype: int) -> Tensor:
          return torch.linear(torch.to(x, dtype), torch.to(weight, dtype))
        def attention_as(self: __torch__.PoseOps,
          q: Tensor,
          k: Tensor,
          v: Tensor,
          scale: float,
          dtype: int) -> Tensor:
          _0 = torch.scaled_dot_product_attention(torch.to(q, dtype), torch.to(k, dtype), torch.to(v, dtype), None, 0., True, scale=scale, enable_gqa=True)
          return _0
        def attention_masked_as(self: __torch__.PoseOps,
          q: Tensor,
          k: Tensor,
          v: Tensor,
          mask: Tensor,
          scale: float,
          dtype: int) -> Tensor:
          _1 = torch.scaled_dot_product_attention(torch.to(q, dtype), torch.to(k, dtype), torch.to(v, dtype), mask, 0., False, scale=scale, enable_gqa=True)
          return _1
        def causal_lm_loss(self: __torch__.PoseOps,
          logits: Tensor,
          labels: Tensor) -> Tensor:
          vocab = (torch.size(logits))[-1]
          shifted = torch.reshape(torch.slice(logits, 1, None, -1), [-1, vocab])
          targets = torch.reshape(torch.slice(labels, 1, 1), [-1])
          return torch.cross_entropy_loss(torch.to(shifted, 6), targets, None, 1, -100, 0.)
        def repeat_heads(self: __torch__.PoseOps,
          x: Tensor,
          n: int) -> Tensor:
          s = torch.size(x)
          e = torch.expand(torch.unsqueeze(x, 2), [s[0], s[1], n, s[2], s[3]])
          return torch.reshape(e, [s[0], torch.mul(s[1], n), s[2], s[3]])
        def cross_entropy(self: __torch__.PoseOps,
          logits: Tensor,
          labels: Tensor) -> Tensor:
          return torch.cross_entropy_loss(logits, labels, None, 1, -100, 0.)
        def rms_norm(self: __torch__.PoseOps,
          x: Tensor,
          weight: Tensor,
          eps: float) -> Tensor:
          h = torch.to(x, 6)
          variance = torch.mean(torch.pow(h, 2), [-1], True)
          h0 = torch.mul(h, torch.rsqrt(torch.add(variance, eps)))
          return torch.mul(weight, torch.to(h0, ops.prim.dtype(x)))
        def linear(self: __torch__.PoseOps,
          x: Tensor,
          weight: Tensor) -> Tensor:
          return torch.linear(x, weight)
        def swiglu(self: __torch__.PoseOps,
          gate: Tensor,
          up: Tensor) -> Tensor:
          return torch.mul(torch.silu(gate), up)
        def rotary(self: __torch__.PoseOps,
          x: Tensor,
          cos: Tensor,
          sin: Tensor) -> Tensor:
          half = torch.floordiv((torch.size(x))[-1], 2)
          rotated = torch.cat([torch.neg(torch.slice(x, -1, half)), torch.slice(x, -1, None, half)], -1)
          return torch.add(torch.mul(x, cos), torch.mul(rotated, sin))
        def embedding(self: __torch__.PoseOps,
          weight: Tensor,
          ids: Tensor) -> Tensor:
          return torch.embedding(weight, ids)
        def adamw_all_(self: __torch__.PoseOps,
          ps: List[Tensor],
          gs: List[Tensor],
          ms: List[Tensor],
          vs: List[Tensor],
          lr: float,
          beta1: float,
          beta2: float,
          eps: float,
          weight_decay: float,
          bias1: float,
          bias2_sqrt: float) -> Tensor:
          torch._foreach_mul_(ps, torch.sub(1., torch.mul(lr, weight_decay)))
          torch._foreach_lerp_(ms, gs, torch.sub(1., beta1))
          torch._foreach_mul_(vs, beta2)
          torch._foreach_addcmul_(vs, gs, gs, torch.sub(1., beta2))
          denom = torch._foreach_sqrt(vs)
          torch._foreach_div_(denom, bias2_sqrt)
          torch._foreach_add_(denom, eps)
          torch._foreach_addcdiv_(ps, ms, denom, torch.neg(torch.div(lr, bias1)))
          return ps[0]
        def grad_norm(self: __torch__.PoseOps,
          grads: List[Tensor]) -> Tensor:
          norms = torch._foreach_norm(grads, 2.)
          return torch.linalg_vector_norm(torch.stack(norms), 2.)
        def scale_(self: __torch__.PoseOps,
          grads: List[Tensor],
          factor: float) -> Tensor:
          torch._foreach_mul_(grads, factor)
          return grads[0]
        def cast(self: __torch__.PoseOps,
          x: Tensor,
          dtype: int) -> Tensor:
          return torch.to(x, dtype)
        def copy_(self: __torch__.PoseOps,
          dst: Tensor,
          src: Tensor) -> Tensor:
          return torch.copy_(dst, src)
        def flat_view(self: __torch__.PoseOps,
          flat: Tensor,
          offset: int,
          numel: int,
          shape: List[int]) -> Tensor:
          return torch.view(torch.narrow(flat, 0, offset, numel), shape)
        def pack_(self: __torch__.PoseOps,
          flat: Tensor,
          xs: List[Tensor],
          offsets: List[int]) -> Tensor:
          for i in range(torch.len(xs)):
            x = xs[i]
            _2 = torch.copy_(torch.narrow(flat, 0, offsets[i], torch.numel(x)), torch.reshape(x, [-1]))
          return flat
        def token_scores(self: __torch__.PoseOps,
          logits: Tensor,
          targets: Tensor) -> Tensor:
          logp = torch.log_softmax(torch.to(logits, 6), -1)
          picked = torch.squeeze(torch.gather(logp, -1, torch.unsqueeze(targets, -1)), -1)
          greedy = torch.to(torch.eq(torch.argmax(logits, -1), targets), 6)
          return torch.stack([picked, greedy], -1)
      """;

  private static final Map<Device, Long> MODULES = new ConcurrentHashMap<>();

  /**
   * TorchScript's executor profiles a method's first runs and then swaps in an optimized graph, whose fused kernels
   * round differently in bf16: the first steps of a run would not match the same steps resumed later. Optimization
   * is off on every thread that runs these methods (libtorch keeps the switch per thread).
   */
  private static final ThreadLocal<Boolean> PLAIN_EXECUTOR = ThreadLocal.withInitial(() -> {
    PoseModuleAccess.disableGraphOptimization();
    return true;
  });

  /** Causal attention over [B, H, T, d] queries and [B, Hkv, T, d] keys and values (grouped-query when Hkv < H). */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, double scale) {
    NDArray[] kv = heads(q, k, v, false);
    return run("attention", q, q, kv[0], kv[1], scale);
  }

  /** Attention with an additive mask [T, T] (0 visible, -inf hidden), e.g. causal with a sliding window. */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, double scale) {
    NDArray[] kv = heads(q, k, v, true);
    return run("attention_masked", q, q, kv[0], kv[1], mask, scale);
  }

  /**
   * Grouped-query heads go to attention as they are only where a fused kernel takes them: libtorch's CPU attention
   * handles enable_gqa only in its slow reference path, and on CUDA the flash kernel takes grouped heads but no mask
   * while the memory-efficient kernel takes a mask but no grouped heads (either falls back to the reference path, whose
   * memory grows with the square of the length). So on CPU, and with a mask, the key and value heads are repeated first
   * (head h reads key/value head h / (H / Hkv), as enable_gqa does); unmasked attention on a GPU keeps them grouped.
   */
  private static NDArray[] heads(NDArray q, NDArray k, NDArray v, boolean masked) {
    long heads = q.getShape().get(1);
    long kvHeads = k.getShape().get(1);
    if (heads == kvHeads || !masked && !"cpu".equals(q.getDevice().getDeviceType())) {
      return new NDArray[] {k, v};
    }
    long n = heads / kvHeads;
    return new NDArray[] {run("repeat_heads", k, k, n), run("repeat_heads", v, v, n)};
  }

  /** {@link #linear} with x and W cast to the compute type first (the result is in the compute type). */
  public static NDArray linear(NDArray x, NDArray weight, ComputeType type) {
    return type == ComputeType.FP32 ? linear(x, weight) : run("linear_as", x, x, weight, (long) type.torchDtype());
  }

  /** Causal attention computed in the given type (the result is in that type). */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, double scale, ComputeType type) {
    if (type == ComputeType.FP32) {
      return attention(q, k, v, scale);
    }
    NDArray[] kv = heads(q, k, v, false);
    return run("attention_as", q, q, kv[0], kv[1], scale, (long) type.torchDtype());
  }

  /** Masked attention computed in the given type; the mask is boolean (true: may attend) or additive. */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, double scale, ComputeType type) {
    if (type == ComputeType.FP32) {
      return attention(q, k, v, mask, scale);
    }
    NDArray[] kv = heads(q, k, v, true);
    return run("attention_masked_as", q, q, kv[0], kv[1], mask, scale, (long) type.torchDtype());
  }

  /**
   * The causal language-model loss from logits [B, T, V] of any dtype (upcast to fp32) and labels [B, T]: position
   * t predicts label t + 1, labels of -100 are ignored, the mean is over the counted tokens.
   */
  public static NDArray causalLmLoss(NDArray logits, NDArray labels) {
    return run("causal_lm_loss", logits, logits, labels);
  }

  /**
   * Mean cross-entropy of logits [N, V] against labels [N] (int64), ignoring labels of -100.
   */
  public static NDArray crossEntropy(NDArray logits, NDArray labels) {
    return run("cross_entropy", logits, logits, labels);
  }

  /**
   * For logits [N, V] (any dtype) and target ids [N] (int64): [N, 2] fp32, column 0 the log-probability of each
   * target (log-softmax in fp32), column 1 one where the target is the argmax (the first maximum, as torch.argmax),
   * else zero. What scoring a continuation needs, without copying [N, V] logits out of the engine.
   */
  public static NDArray tokenScores(NDArray logits, NDArray targets) {
    return run("token_scores", logits, logits, targets);
  }

  /** RMSNorm as transformers computes it: in fp32, cast back to the input's dtype, times the weight. */
  public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
    return run("rms_norm", x, x, weight, eps);
  }

  /** x W^T. */
  public static NDArray linear(NDArray x, NDArray weight) {
    return run("linear", x, x, weight);
  }

  /** silu(gate) * up. */
  public static NDArray swiglu(NDArray gate, NDArray up) {
    return run("swiglu", gate, gate, up);
  }

  /** x cos + rotate_half(x) sin (half-split rotation). */
  public static NDArray rotary(NDArray x, NDArray cos, NDArray sin) {
    return run("rotary", x, x, cos, sin);
  }

  /** Rows of weight [V, h] for ids (int64) of any shape. */
  public static NDArray embedding(NDArray weight, NDArray ids) {
    return run("embedding", ids, weight, ids); // the result belongs with the batch, not with the weights
  }

  /**
   * One AdamW update of several parameters, in place, in one call, with torch.optim.AdamW's formulas: p *= 1 - lr wd;
   * m.lerp_(g, 1 - beta1); v = beta2 v + (1 - beta2) g^2; p -= (lr / bias1) m / (sqrt(v) / bias2Sqrt + eps). The
   * denominators of all of them exist at once: callers bound the size of a group. Runs with autograd off.
   */
  public static void adamw(List<NDArray> p, List<NDArray> g, List<NDArray> m, List<NDArray> v, double lr,
      double beta1, double beta2, double eps, double weightDecay, double bias1, double bias2Sqrt) {
    Autograd.recording(false, () -> {
      try (NDArray first = run("adamw_all_", p.get(0), (Object) p.toArray(NDArray[]::new),
          (Object) g.toArray(NDArray[]::new), (Object) m.toArray(NDArray[]::new), (Object) v.toArray(NDArray[]::new),
          lr, beta1, beta2, eps, weightDecay, bias1, bias2Sqrt)) {
        return null;
      }
    });
  }

  /** The 2-norm of all tensors together (the norm of their norms, as clip_grad_norm_ computes it), a 0-d tensor. */
  public static NDArray globalNorm(List<NDArray> tensors) {
    return Autograd.recording(false, () -> run("grad_norm", tensors.get(0), (Object) tensors.toArray(NDArray[]::new)));
  }

  /** Multiplies every tensor by the factor, in place. */
  public static void scale(List<NDArray> tensors, double factor) {
    Autograd.recording(false, () -> {
      try (NDArray first = run("scale_", tensors.get(0), tensors.toArray(NDArray[]::new), factor)) {
        return null;
      }
    });
  }

  /**
   * A differentiable cast (DJL's toType is not differentiable and aborts on bf16). Do not call DJL methods that read
   * the dtype of a bf16 result (getDataType, toType, toArray): DJL 0.36 aborts the JVM on them.
   */
  public static NDArray cast(NDArray x, int dtype) {
    return run("cast", x, x, (long) dtype);
  }

  /** Copies src into dst in place (any devices, same shape and dtype); runs with autograd off. */
  public static void copy(NDArray dst, NDArray src) {
    Autograd.recording(false, () -> {
      try (NDArray same = run("copy_", dst, dst, src)) {
        return null;
      }
    });
  }

  /**
   * A view of flat[offset, offset + numel) with the given shape, sharing flat's memory (writes through flat show in
   * it). Created with autograd off: the view is a leaf of any later graph.
   */
  public static NDArray view(NDArray flat, long offset, long[] shape) {
    long numel = 1;
    for (long d : shape) {
      numel *= d;
    }
    long n = numel;
    // torch's narrow counts a negative start back from the end: a wrong offset would read the wrong values silently
    if (offset < 0 || offset + n > flat.size()) {
      throw new IllegalArgumentException("a view of " + n + " values at " + offset + " does not lie inside "
          + flat.size());
    }
    return Autograd.recording(false, () -> run("flat_view", flat, flat, offset, n, shape));
  }

  /** Copies each tensor, flattened, into flat at its offset (flat is 1-d; what lies between them is left as is). */
  public static void pack(NDArray flat, List<NDArray> tensors, long[] offsets) {
    if (tensors.size() != offsets.length) {
      throw new IllegalArgumentException(tensors.size() + " tensors, " + offsets.length + " offsets");
    }
    Autograd.recording(false, () -> {
      try (NDArray same = run("pack_", flat, flat, (Object) tensors.toArray(NDArray[]::new), offsets)) {
        return null;
      }
    });
  }

  private static NDArray run(String method, NDArray owner, Object... arguments) {
    PLAIN_EXECUTOR.get();
    NDManager manager = owner.getManager();
    long module = MODULES.computeIfAbsent(manager.getDevice(), FusedOps::load);
    Object[] args = new Object[arguments.length];
    for (int i = 0; i < arguments.length; i++) {
      if (arguments[i] instanceof NDArray[] list) {
        PtNDArray[] tensors = new PtNDArray[list.length];
        for (int j = 0; j < list.length; j++) {
          tensors[j] = (PtNDArray) list[j];
        }
        args[i] = tensors;
      } else {
        args[i] = arguments[i] instanceof NDArray a ? (PtNDArray) a : arguments[i];
      }
    }
    return PoseModuleAccess.run(module, method, (PtNDManager) manager, args);
  }

  private static long load(Device device) {
    try {
      return PoseModuleAccess.load(archive(), device);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The module as torch.jit.save lays it out: archive/{code/__torch__.py, data.pkl, constants.pkl, version}. */
  static byte[] archive() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      stored(zip, "archive/data.pkl", modulePickle());
      stored(zip, "archive/code/__torch__.py", SOURCE.getBytes(StandardCharsets.UTF_8));
      stored(zip, "archive/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // protocol 2: an empty tuple
      stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
      stored(zip, "archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
    }
    return bytes.toByteArray();
  }

  /**
   * The pickled module object (protocol 2): an instance of __torch__.PoseOps whose state is {training: True}.
   */
  static byte[] modulePickle() {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x80); // PROTO
    p.write(2);
    p.writeBytes("c__torch__\nPoseOps\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL module\nname\n
    p.write(')'); // EMPTY_TUPLE: constructor arguments
    p.write(0x81); // NEWOBJ
    p.write('}'); // EMPTY_DICT: the state
    p.write('('); // MARK
    byte[] key = "training".getBytes(StandardCharsets.UTF_8);
    p.write('X'); // BINUNICODE, 4-byte little-endian length
    p.write(key.length);
    p.write(0);
    p.write(0);
    p.write(0);
    p.writeBytes(key);
    p.write(0x88); // NEWTRUE
    p.write('u'); // SETITEMS
    p.write('b'); // BUILD: object.__setstate__(state)
    p.write('.'); // STOP
    return p.toByteArray();
  }

  private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    e.setCompressedSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(data);
    zip.closeEntry();
  }
}
