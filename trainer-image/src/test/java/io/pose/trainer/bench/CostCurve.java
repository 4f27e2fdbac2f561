package io.pose.trainer.bench;

import io.pose.core.sampling.PositionSampler;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.Documents;
import io.pose.trainer.io.Checkpoint;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The paper's Figure 3 at a model's scale: the cost of one optimizer step of PoSE and of full-length fine-tuning as
 * the target grows (2x, 4x, 8x, 16x the training window), against plain training at the window (1x). Each point is
 * the real Trainer (forward, loss, backward, clipping, AdamW; fp32 on CPU) in a JVM of its own, so that its peak
 * resident memory is its own; all points read the same random token documents. PoSE trains `window` tokens per
 * sample whatever the target, with position ids drawn by the official rule up to the target; full-length trains
 * `target` tokens per sample at positions 0 .. target - 1.
 */
public final class CostCurve {
  private CostCurve() {}

  /** Prints the table for the tiny base model: {@code CostCurve [factor...]} (default 1 2 4 8 16). */
  public static void main(String[] args) throws Exception {
    List<Integer> factors = args.length == 0 ? List.of(1, 2, 4, 8, 16)
        : java.util.Arrays.stream(args).map(Integer::valueOf).toList();
    Path work = Files.createTempDirectory("pose-cost");
    List<Point> points = measure(TrainerBenchmark.repoRoot().resolve("examples/tiny/base-model"), 128,
        new Plan(factors, 16, 2, 8), work, new PrintWriter(System.out, true));
    System.out.print(table(points));
  }

  /** One measured point: the method ("window" for 1x, "pose", "full"), the target, and what a step cost. */
  public record Point(String method, int factor, int tokensPerSample, int positionsReach, double medianStepSeconds,
      long peakRssBytes) {}

  /** How much to measure: the target factors, the batch, and the warm-up and measured steps per point. */
  public record Plan(List<Integer> factors, int batch, int warmup, int measured) {}

  /**
   * Measures every point for the model in `model` (config.json and model.safetensors) at its training window.
   *
   * @return the 1x point first, then PoSE and full-length for each factor above 1
   */
  public static List<Point> measure(Path model, int window, Plan plan, Path work, PrintWriter log)
      throws IOException, InterruptedException {
    int vocab = io.pose.core.hf.HfConfigs.read(model.resolve("config.json")).vocabSize();
    int longest = window * plan.factors().stream().mapToInt(Integer::intValue).max().orElse(1);
    Documents docs = documents(vocab, longest);
    int threads = Runtime.getRuntime().availableProcessors();
    List<Point> points = new ArrayList<>();
    for (int factor : plan.factors()) {
      for (String method : factor == 1 ? List.of("window") : List.of("pose", "full")) {
        int target = window * factor;
        PositionSampler sampler = method.equals("pose") ? Samplers.official(window, target)
            : Samplers.fullLength(target);
        Path dir = Files.createDirectories(work.resolve(method + "-" + factor + "x"));
        Files.copy(model.resolve("config.json"), dir.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(model.resolve(Checkpoint.SINGLE_FILE), dir.resolve(Checkpoint.SINGLE_FILE),
            StandardCopyOption.REPLACE_EXISTING);
        TrainerBenchmark.writeInputs(dir, method + " " + factor + "x", docs, sampler, plan.batch(), plan.warmup(),
            plan.measured());
        TrainerBenchmark.Measured m = TrainerBenchmark.measureJava(dir, threads, false);
        Point p = new Point(method, factor, sampler.trainingWindow(), target, m.medianSeconds(), m.peakRssBytes());
        log.printf(Locale.ROOT, "  cost %s %dx: %d tokens per sample, %.3f s per step, peak RSS %d MiB%n", method,
            factor, p.tokensPerSample(), p.medianStepSeconds(), p.peakRssBytes() >> 20);
        points.add(p);
      }
    }
    return points;
  }

  /** Random token documents, each twice the longest sample, the same for every point. */
  static Documents documents(int vocab, int longest) {
    SplittableRandom r = new SplittableRandom(17);
    int[][] docs = new int[32][];
    for (int d = 0; d < docs.length; d++) {
      docs[d] = r.ints(2L * longest, 3, vocab).toArray();
    }
    return Documents.of(docs, "random token documents");
  }

  /** The Markdown table of the points: step time and peak memory, each relative to training at the window. */
  public static String table(List<Point> points) {
    Point base = points.stream().filter(p -> p.factor() == 1).findFirst().orElse(null);
    StringBuilder b = new StringBuilder("| target | method | tokens per sample | positions reach | median step | "
        + "vs 1x | peak RSS | vs 1x |\n|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (Point p : points) {
      b.append(String.format(Locale.ROOT, "| %dx | %s | %d | %d | %.3f s | %s | %d MiB | %s |%n", p.factor(),
          p.method().equals("window") ? "training at the window" : p.method().equals("pose") ? "PoSE" : "full-length",
          p.tokensPerSample(), p.positionsReach(), p.medianStepSeconds(),
          base == null ? "" : String.format(Locale.ROOT, "%.2f", p.medianStepSeconds() / base.medianStepSeconds()),
          p.peakRssBytes() >> 20,
          base == null ? "" : String.format(Locale.ROOT, "%.2f", (double) p.peakRssBytes() / base.peakRssBytes())));
    }
    return b.toString();
  }

  /** PoSE's step time at the largest factor over the step time at the window: the paper's "flat" claim. */
  public static double poseFlatness(List<Point> points) {
    Point base = points.stream().filter(p -> p.factor() == 1).findFirst().orElseThrow();
    Point top = points.stream().filter(p -> p.method().equals("pose"))
        .max((a, c) -> Integer.compare(a.factor(), c.factor())).orElseThrow();
    return top.medianStepSeconds() / base.medianStepSeconds();
  }
}
