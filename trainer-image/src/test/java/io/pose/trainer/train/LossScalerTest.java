package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** torch.amp.GradScaler's update rule: halve on overflow, double after growthInterval good steps in a row. */
class LossScalerTest {

  @Test
  void halvesOnOverflowAndDoublesAfterARunOfGoodSteps() {
    LossScaler s = new LossScaler(1024, 3);
    s.update(true);
    s.update(true);
    assertThat(s.scale()).isEqualTo(1024);
    assertThat(s.goodSteps()).as("good steps since the last change").isEqualTo(2);
    s.update(false);
    assertThat(s.scale()).isEqualTo(512);
    assertThat(s.goodSteps()).isZero();
    s.update(true);
    s.update(true);
    assertThat(s.scale()).isEqualTo(512);
    s.update(true);
    assertThat(s.scale()).as("three good steps in a row").isEqualTo(1024);
    assertThat(s.goodSteps()).isZero();
    s.restore(8, 2);
    s.update(true);
    assertThat(s.scale()).isEqualTo(16);
    assertThat(new LossScaler().scale()).isEqualTo(65536);
    assertThatThrownBy(() -> new LossScaler(1000, 5)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new LossScaler(0, 5)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new LossScaler(-2, 5)).hasMessageContaining("power of two");
    assertThat(new LossScaler(0.5, 5).scale()).isEqualTo(0.5);
  }
}
