package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every fused operation against its plain DJL formulation ({@link Ops}): the same values and the same gradients
 * for every input, through DJL's gradient collector (fp32, 1 thread).
 */
class FusedOpsTest {

  NDManager m;
  Random random = new Random(5);

  @BeforeEach
  void manager() {
    m = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    m.close();
  }

  NDArray randn(long... shape) {
    float[] v = new float[(int) new Shape(shape).size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) random.nextGaussian();
    }
    NDArray a = m.create(v, new Shape(shape));
    a.setRequiresGradient(true);
    return a;
  }

  /** Runs both formulations with a random upstream gradient; compares outputs and the inputs' gradients. */
  void same(List<NDArray> inputs, Function<List<NDArray>, NDArray> fused, Function<List<NDArray>, NDArray> plain,
      double tolerance) {
    float[][] results = new float[2][];
    List<List<float[]>> grads = new ArrayList<>();
    NDArray upstream = null;
    for (int run = 0; run < 2; run++) {
      inputs.forEach(Autograd::zeroGrad);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray out = (run == 0 ? fused : plain).apply(inputs);
        if (upstream == null) {
          upstream = randn(out.getShape().getShape());
          upstream.setRequiresGradient(false);
        }
        results[run] = out.toFloatArray();
        gc.backward(out.mul(upstream).sum());
      }
      List<float[]> g = new ArrayList<>();
      for (NDArray in : inputs) {
        g.add(in.hasGradient() ? in.getGradient().toFloatArray() : null);
      }
      grads.add(g);
    }
    assertClose("output", results[0], results[1], tolerance);
    for (int i = 0; i < inputs.size(); i++) {
      if (grads.get(1).get(i) != null) {
        assertClose("gradient of input " + i, grads.get(0).get(i), grads.get(1).get(i), tolerance);
      }
    }
  }

  static void assertClose(String what, float[] actual, float[] expected, double tolerance) {
    assertThat(actual).as(what).hasSameSizeAs(expected);
    double scale = 0;
    for (float e : expected) {
      scale = Math.max(scale, Math.abs(e));
    }
    for (int i = 0; i < actual.length; i++) {
      assertThat((double) actual[i]).as("%s[%d]", what, i)
          .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tolerance * Math.max(1e-3, scale)));
    }
  }

  static NDArray plainAttention(NDArray q, NDArray k, NDArray v, NDArray mask, double scale) {
    long heads = q.getShape().get(1);
    long kvHeads = k.getShape().get(1);
    if (kvHeads != heads) {
      k = k.repeat(1, heads / kvHeads);
      v = v.repeat(1, heads / kvHeads);
    }
    NDManager m = q.getManager();
    return q.matMul(k.swapAxes(2, 3)).mul(Ops.scalar(m, scale)).add(mask).softmax(-1).matMul(v);
  }

  @Test
  void causalAttentionWithGroupedQueryHeads() {
    NDArray q = randn(2, 4, 7, 8);
    NDArray k = randn(2, 2, 7, 8);
    NDArray v = randn(2, 2, 7, 8);
    double scale = 1 / Math.sqrt(8);
    same(List.of(q, k, v), in -> FusedOps.attention(in.get(0), in.get(1), in.get(2), scale),
        in -> plainAttention(in.get(0), in.get(1), in.get(2), causalMask(m, 7, null), scale), 1e-5);
  }

  @Test
  void maskedAttentionWithASlidingWindow() {
    NDArray q = randn(1, 2, 9, 4);
    NDArray k = randn(1, 2, 9, 4);
    NDArray v = randn(1, 2, 9, 4);
    NDArray mask = causalMask(m, 9, 3);
    same(List.of(q, k, v), in -> FusedOps.attention(in.get(0), in.get(1), in.get(2), mask, 0.5),
        in -> plainAttention(in.get(0), in.get(1), in.get(2), mask, 0.5), 1e-5);
  }

  @Test
  void crossEntropyIgnoresMinus100() {
    NDArray logits = randn(1, 6, 11);
    NDArray labels = m.create(new long[] {3, 0, -100, 10, 7, -100}, new Shape(1, 6));
    // the plain loss shifts (logits[:, :-1] predict labels[:, 1:]); shift the same way for the fused one
    same(List.of(logits), in -> FusedOps.crossEntropy(in.get(0).get("0, :-1, :"),
            labels.get("0, 1:")), in -> Ops.causalLmLoss(in.get(0), labels), 1e-6);
  }

  @Test
  void tokenScoresAreLogSoftmaxOfTheTargetAndWhetherItIsTheArgmax() {
    NDArray logits = randn(5, 13);
    logits.setRequiresGradient(false);
    long[] targets = {0, 12, 4, 4, 7};
    float[] l = logits.toFloatArray();
    // make target 4 the argmax of row 2, and tie row 3's maximum with an earlier index (torch takes the first)
    l[2 * 13 + 4] = 9f;
    l[3 * 13 + 1] = 9f;
    l[3 * 13 + 4] = 9f;
    logits = m.create(l, new Shape(5, 13));
    float[] scores = FusedOps.tokenScores(logits, m.create(targets)).toFloatArray();
    for (int row = 0; row < 5; row++) {
      double max = Double.NEGATIVE_INFINITY;
      int argmax = -1;
      for (int j = 0; j < 13; j++) {
        if (l[row * 13 + j] > max) {
          max = l[row * 13 + j];
          argmax = j;
        }
      }
      double sum = 0;
      for (int j = 0; j < 13; j++) {
        sum += Math.exp(l[row * 13 + j] - max);
      }
      double logp = l[row * 13 + (int) targets[row]] - max - Math.log(sum);
      assertThat((double) scores[2 * row]).as("log p row %d", row).isCloseTo(logp, org.assertj.core.data.Offset.offset(1e-5));
      assertThat(scores[2 * row + 1]).as("greedy row %d", row).isEqualTo(argmax == targets[row] ? 1f : 0f);
    }
    assertThat(scores[2 * 2 + 1]).isEqualTo(1f);
    assertThat(scores[2 * 3 + 1]).isEqualTo(0f);
  }

  @Test
  void rmsNormLinearSwigluRotaryEmbedding() {
    NDArray x = randn(2, 5, 16);
    NDArray w = randn(16);
    same(List.of(x, w), in -> FusedOps.rmsNorm(in.get(0), in.get(1), 1e-6),
        in -> Ops.rmsNorm(in.get(0), in.get(1), 1e-6), 1e-5);
    NDArray weight = randn(12, 16);
    same(List.of(x, weight), in -> FusedOps.linear(in.get(0), in.get(1)), in -> Ops.linear(in.get(0), in.get(1)), 1e-5);
    NDArray gate = randn(2, 5, 16);
    NDArray up = randn(2, 5, 16);
    same(List.of(gate, up), in -> FusedOps.swiglu(in.get(0), in.get(1)),
        in -> Ops.silu(in.get(0)).mul(in.get(1)), 1e-5);
    NDArray h = randn(2, 3, 5, 8);
    NDArray cos = randn(2, 1, 5, 8);
    NDArray sin = randn(2, 1, 5, 8);
    same(List.of(h), in -> FusedOps.rotary(in.get(0), cos, sin), in -> Ops.applyRotary(in.get(0), cos, sin), 1e-6);
    NDArray table = randn(10, 4);
    NDArray ids = m.create(new long[] {1, 9, 1, 0, 4, 4}, new Shape(2, 3));
    same(List.of(table), in -> FusedOps.embedding(in.get(0), ids), in -> Ops.embedding(in.get(0), ids), 0);
  }

  @Test
  void castsToBf16AndBackAreDifferentiableAndRoundToNearestEven() {
    NDArray x = m.create(new float[] {1.0f, 1.00390625f, 1.01171875f, -3.14159f}, new Shape(4));
    x.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      NDArray back = FusedOps.cast(FusedOps.cast(x, FusedOps.BFLOAT16), FusedOps.FLOAT32);
      assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
      // bf16 keeps 8 bits of mantissa: 1 + 2^-8 is a tie and rounds to even (1.0); 1 + 3 * 2^-8 rounds up
      assertThat(back.toFloatArray()).containsExactly(1.0f, 1.0f, 1.015625f, -3.140625f);
      gc.backward(back.mul(m.create(new float[] {1, 2, 3, 4})).sum());
    }
    assertThat(x.getGradient().toFloatArray()).containsExactly(1f, 2f, 3f, 4f);
  }

  /** A view lies inside its buffer; an offset outside it is refused (torch's narrow would count it from the end). */
  @Test
  void aViewOutsideItsBufferIsRefused() {
    NDArray flat = m.arange(10f);
    try (NDArray last = FusedOps.view(flat, 7, new long[] {3})) {
      assertThat(last.toFloatArray()).containsExactly(7f, 8f, 9f);
    }
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> FusedOps.view(flat, -3, new long[] {3}))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("a view of 3 values at -3 does not lie inside 10");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> FusedOps.view(flat, 8, new long[] {3}))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("a view of 3 values at 8 does not lie inside 10");
  }

  /**
   * The reference: an additive attention mask [T, T]: 0 where query i may attend to key j (j <= i, and i - j < window when a sliding
   * window is set), -inf elsewhere. Like transformers, the window counts token indices, not position ids.
   */
  static NDArray causalMask(NDManager manager, int length, Integer slidingWindow) {
    float[] mask = new float[length * length];
    for (int i = 0; i < length; i++) {
      for (int j = 0; j < length; j++) {
        boolean visible = j <= i && (slidingWindow == null || i - j < slidingWindow);
        mask[i * length + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
      }
    }
    return manager.create(mask, new Shape(length, length));
  }
}
