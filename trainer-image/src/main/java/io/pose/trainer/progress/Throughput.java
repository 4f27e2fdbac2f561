package io.pose.trainer.progress;

import io.pose.trainer.train.StepResult;
import java.util.ArrayDeque;

/** Tokens per second and seconds per step over the last 20 steps (the first steps include warm-up). */
final class Throughput {
  private static final int WINDOW = 20;
  private final ArrayDeque<StepResult> recent = new ArrayDeque<>();

  void add(StepResult r) {
    recent.addLast(r);
    if (recent.size() > WINDOW) {
      recent.removeFirst();
    }
  }

  double tokensPerSecond() {
    double seconds = recent.stream().mapToDouble(StepResult::seconds).sum();
    long tokens = recent.stream().mapToLong(StepResult::tokens).sum();
    return seconds > 0 ? tokens / seconds : 0;
  }

  long etaSeconds(int remainingSteps) {
    double perStep = recent.stream().mapToDouble(StepResult::seconds).average().orElse(0);
    return Math.round(perStep * Math.max(0, remainingSteps));
  }
}
