package io.pose.trainer.progress;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.trainer.train.StepResult;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConsoleProgressTest {
  @Test
  void theLearningRatePrintsTheSameWayAtEveryStep() {
    ConsoleProgress p = new ConsoleProgress(new PrintWriter(new StringWriter()), false, Duration.ZERO);
    // warm-up starts at 0: the first line must not switch notation
    assertThat(p.line(new StepResult(1, 3.25, 1.5, 0.0, 2048, 0.1, 100, 128), 300)).contains("lr 0.00e+00");
    assertThat(p.line(new StepResult(2, 3.0, 1.2, 5.0e-5, 2048, 0.1, 100, 128), 300)).contains("lr 5.00e-05");
    assertThat(p.line(new StepResult(3, 2.9, 1.1, 1.0e-3, 2048, 0.1, 100, 128), 300))
        .startsWith("step 3/300  loss 2.9000  lr 1.00e-03  grad-norm 1.100");
  }
}
