package io.pose.trainer.progress;

import io.pose.trainer.train.StepResult;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * Training progress for people. On a terminal: one line redrawn in place, with a bar, loss, tokens per second and
 * ETA. In a log (a pod's stdout): a line for the first step, then at most one per interval, and the last step.
 */
public final class ConsoleProgress implements ProgressListener {

  private static final int BAR_WIDTH = 24;
  private final PrintWriter out;
  private final boolean interactive;
  private final long intervalNanos;
  private final Throughput throughput = new Throughput();
  private long lastPrinted = Long.MIN_VALUE;
  private boolean lineOpen;

  /**
   * @param interactive redraw one line (a terminal) rather than append lines
   * @param interval the least time between two lines when not interactive (zero: every step)
   */
  public ConsoleProgress(PrintWriter out, boolean interactive, Duration interval) {
    this.out = out;
    this.interactive = interactive;
    this.intervalNanos = interval.toNanos();
  }

  @Override
  public void step(StepResult r, int totalSteps, Integer lastCheckpointStep) {
    throughput.add(r);
    long now = System.nanoTime();
    boolean last = r.step() >= totalSteps;
    if (interactive) {
      out.print("\r" + bar(r.step(), totalSteps) + " " + line(r, totalSteps) + "\u001b[K");
      lineOpen = !last;
      if (last) {
        out.println();
      }
      out.flush();
      return;
    }
    if (lastPrinted == Long.MIN_VALUE || last || now - lastPrinted >= intervalNanos) {
      out.println(line(r, totalSteps)
          + (lastCheckpointStep != null && lastCheckpointStep == r.step() ? "  (checkpoint)" : ""));
      lastPrinted = now;
    }
  }

  @Override
  public void close() {
    if (lineOpen) {
      out.println();
      lineOpen = false;
    }
  }

  String line(StepResult r, int totalSteps) {
    long eta = throughput.etaSeconds(totalSteps - r.step());
    return String.format(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  grad-norm %.3f  %s tokens/s  ETA %s", r.step(),
        totalSteps, r.loss(), r.learningRate(), r.gradNorm(), Math.round(throughput.tokensPerSecond()), format(eta));
  }

  static String bar(int step, int total) {
    int filled = total == 0 ? BAR_WIDTH : (int) ((long) BAR_WIDTH * step / total);
    return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "]";
  }

  static String format(long seconds) {
    Duration d = Duration.ofSeconds(seconds);
    return d.toHours() > 0 ? String.format(Locale.ROOT, "%dh%02dm", d.toHours(), d.toMinutesPart())
        : String.format(Locale.ROOT, "%dm%02ds", d.toMinutes(), d.toSecondsPart());
  }
}
