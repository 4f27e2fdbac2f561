package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Recording is a per-thread mode: set for a body, restored after it, nested scopes included. */
class AutogradTest {

  @Test
  void recordingIsSetForTheBodyAndRestoredAfterIt() {
    assertThat(Autograd.recording()).isFalse();
    boolean[] seen = new boolean[3];
    Autograd.recording(true, () -> {
      seen[0] = Autograd.recording();
      Autograd.recording(false, () -> {
        seen[1] = Autograd.recording();
        return null;
      });
      seen[2] = Autograd.recording();
      return null;
    });
    assertThat(seen).containsExactly(true, false, true);
    assertThat(Autograd.recording()).isFalse();
  }
}
