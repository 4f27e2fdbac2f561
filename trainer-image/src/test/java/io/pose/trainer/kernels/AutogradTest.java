package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Recording is a per-thread mode: set for a body, restored after it, nested scopes included. */
class AutogradTest {

  @Test
  void recordingIsSetForTheBodyAndRestoredAfterIt() {
    ai.djl.engine.Engine.getInstance(); // loads libtorch
    boolean before = Autograd.recording(); // the thread's mode, whatever it is
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
    assertThat(Autograd.recording()).isEqualTo(before);
    boolean inner = Autograd.recording(false, () -> Autograd.recording(true, Autograd::recording));
    assertThat(inner).isTrue();
    assertThat(Autograd.recording()).isEqualTo(before);
  }
}
