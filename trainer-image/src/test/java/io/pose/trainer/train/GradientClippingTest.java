package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Clipping at its edges, as torch.nn.utils.clip_grad_norm_ does it: the coefficient max_norm / (norm + 1e-6) is
 * applied only below 1, so a norm just at the bound is still scaled by a hair, and a maxNorm of 0 (the spec's "no
 * clipping") leaves the gradients alone.
 */
class GradientClippingTest {

  NDManager m;

  @BeforeEach
  void manager() {
    m = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    m.close();
  }

  /** A parameter whose gradient is g (the gradient of sum(p * g)). */
  private NDArray withGradient(float... g) {
    NDArray p = m.zeros(new ai.djl.ndarray.types.Shape(g.length));
    p.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(p.mul(m.create(g)).sum());
    }
    return p;
  }

  @Test
  void aNormAtTheBoundIsStillScaledByTheEpsilonAsTorchDoes() {
    // (6e-4, 8e-4) has norm 1e-3; with maxNorm 1e-3 the coefficient is 1e-3 / (1e-3 + 1e-6), just below 1
    NDArray p = withGradient(6e-4f, 8e-4f);
    double norm = GradientClipping.clip(List.of(p), 1e-3);
    assertThat(norm).isCloseTo(1e-3, org.assertj.core.data.Offset.offset(1e-9));
    float coefficient = (float) 1e-3 / ((float) norm + 1e-6f);
    assertThat(coefficient).isLessThan(1f);
    assertThat(p.getGradient().toFloatArray()).containsExactly(6e-4f * coefficient, 8e-4f * coefficient);
  }

  @Test
  void aMaxNormOfZeroLeavesTheGradientsAlone() {
    NDArray p = withGradient(3f, 4f);
    assertThat(GradientClipping.clip(List.of(p), 0)).isEqualTo(5.0);
    assertThat(p.getGradient().toFloatArray()).containsExactly(3f, 4f);
  }

  @Test
  void aNormBelowTheBoundIsNotScaledAndOneAboveIs() {
    NDArray below = withGradient(3f, 4f);
    GradientClipping.clip(List.of(below), 5.1);
    assertThat(below.getGradient().toFloatArray()).containsExactly(3f, 4f);
    NDArray above = withGradient(3f, 4f);
    GradientClipping.clip(List.of(above), 1.0);
    float c = 1f / (5f + 1e-6f);
    assertThat(above.getGradient().toFloatArray()).containsExactly(3f * c, 4f * c);
  }

  @Test
  void noGradientsHaveNormZero() {
    NDArray p = m.zeros(new ai.djl.ndarray.types.Shape(2));
    assertThat(GradientClipping.clip(List.of(p), 1.0)).isZero();
  }

  /** Clipping takes handles of the gradients and closes them: it leaves no tensor behind. */
  @Test
  void clippingLeavesNoTensorBehind() {
    NDArray a = withGradient(3f, 4f);
    NDArray b = withGradient(1f);
    int before = m.getManagedArrays().size();
    GradientClipping.clip(List.of(a, b), 1.0);
    GradientClipping.clip(List.of(a, b), 100.0);
    assertThat(m.getManagedArrays()).hasSize(before);
  }
}
