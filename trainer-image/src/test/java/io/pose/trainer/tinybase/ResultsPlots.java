package io.pose.trainer.tinybase;

import io.pose.trainer.bench.CostCurve;
import io.pose.trainer.eval.LengthChart;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The figures of docs/results.md, drawn by {@link LengthChart}: passkey accuracy by length for each RoPE scaling (one
 * line per method, the paper's Figure 2 shape), and step time and peak memory against the target for PoSE and
 * full-length training (its Figure 3).
 */
final class ResultsPlots {
  private ResultsPlots() {}

  /** Writes the passkey figure of every scaling in the rows; returns the files, named PREFIXpasskey-SCALING.png. */
  static List<Path> passkey(List<Results.Row> rows, int window, int target, Path dir, String prefix)
      throws IOException {
    Files.createDirectories(dir);
    List<Path> files = new ArrayList<>();
    for (String scaling : rows.stream().map(Results.Row::scaling).distinct().toList()) {
      List<Results.Row> these = rows.stream().filter(r -> r.scaling().equals(scaling)).toList();
      LengthChart chart = LengthChart.of("Passkey retrieval after extending " + window + " -> " + target
          + " tokens, " + scaling + " scaling", "prompt length (tokens)", "accuracy",
          new ArrayList<>(these.get(0).passkey().keySet())).unitRange()
          .mark(window, "original window " + window).mark(target, "target " + target)
          .series("base model (no extension)", these.get(0).basePasskey());
      these.forEach(r -> chart.series(r.label(), r.passkey()));
      Path file = dir.resolve(prefix + "passkey-" + scaling + ".png");
      chart.save(file);
      files.add(file);
    }
    return files;
  }

  /** Writes cost-time.png and cost-memory.png: each measure against the target, PoSE and full-length. */
  static List<Path> cost(List<CostCurve.Point> points, int window, Path dir) throws IOException {
    Files.createDirectories(dir);
    List<Path> files = new ArrayList<>();
    record Measure(String file, String title, String unit, Function<CostCurve.Point, Double> value) {}
    List<Integer> targets = points.stream().map(CostCurve.Point::positionsReach).distinct().toList();
    for (Measure m : List.of(
        new Measure("cost-time.png", "Step time as the target grows", "median step (s)",
            p -> p.medianStepSeconds()),
        new Measure("cost-memory.png", "Peak memory as the target grows", "peak RSS (MiB)",
            p -> (double) (p.peakRssBytes() >> 20)))) {
      LengthChart chart = LengthChart.of(m.title() + " (training window " + window + " tokens)",
          "target length (tokens)", m.unit(), targets).mark(window, "training at the window");
      for (String method : List.of("pose", "full")) {
        Map<Integer, Double> line = new LinkedHashMap<>();
        points.stream().filter(p -> p.factor() == 1 || p.method().equals(method))
            .forEach(p -> line.put(p.positionsReach(), m.value().apply(p)));
        chart.series(method.equals("pose") ? "PoSE (" + window + " tokens per sample)"
            : "full-length (target tokens per sample)", line);
      }
      Path file = dir.resolve(m.file());
      chart.save(file);
      files.add(file);
    }
    return files;
  }

  /** Markdown image links to the files, relative to the directory of the document. */
  static String markdown(List<Path> files, Path relativeTo) {
    StringBuilder b = new StringBuilder();
    for (Path f : files) {
      String name = f.getFileName().toString().replace(".png", "").replace('-', ' ');
      b.append(String.format(Locale.ROOT, "![%s](%s)%n", name, relativeTo.relativize(f)));
    }
    return b.toString();
  }
}
