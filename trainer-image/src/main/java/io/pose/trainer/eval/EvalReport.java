package io.pose.trainer.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.EvaluationResults.BenchmarkResult;
import io.pose.api.progress.EvaluationResults.PasskeyResult;
import io.pose.api.progress.EvaluationResults.PerplexityResult;
import io.pose.api.progress.ProgressProtocol;
import io.pose.trainer.io.AtomicDirectory;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The Evaluate stage's output directory: {@code results.json} (the api module's EvaluationResults, the document the
 * operator copies into status), {@code results.md} (the tables, for the model card), and the plots
 * {@code passkey.png} (accuracy against prompt length) and {@code perplexity.png} (perplexity against window
 * length), each with the base model beside the extended one when it was measured. Written all at once.
 */
public final class EvalReport {
  private EvalReport() {}

  public static final String RESULTS_JSON = "results.json";
  public static final String RESULTS_MARKDOWN = "results.md";
  public static final String PASSKEY_PLOT = "passkey.png";
  public static final String PERPLEXITY_PLOT = "perplexity.png";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Writes the directory (replacing it atomically). */
  public static void write(Path directory, EvaluationResults results, String title) throws IOException {
    String json = JSON.writeValueAsString(JSON.readTree(ProgressProtocol.write(results)));
    String markdown = markdown(results, title);
    AtomicDirectory.write(directory, dir -> {
      Files.writeString(dir.resolve(RESULTS_JSON), json + "\n", StandardCharsets.UTF_8);
      Files.writeString(dir.resolve(RESULTS_MARKDOWN), markdown, StandardCharsets.UTF_8);
      if (!results.getPasskey().isEmpty()) {
        plot(dir.resolve(PASSKEY_PLOT), "Passkey retrieval", "prompt length (tokens)", "accuracy",
            results.getPasskey(), PasskeyResult::getLength, PasskeyResult::getAccuracy, PasskeyResult::getBaseAccuracy,
            true);
      }
      if (!results.getPerplexity().isEmpty()) {
        plot(dir.resolve(PERPLEXITY_PLOT), "Perplexity", "window length (tokens)", "perplexity",
            results.getPerplexity(), PerplexityResult::getLength, PerplexityResult::getPerplexity,
            PerplexityResult::getBasePerplexity, false);
      }
    });
  }

  /** The tables: passkey accuracy and perplexity per length, benchmarks, base beside extended where measured. */
  public static String markdown(EvaluationResults r, String title) {
    StringBuilder b = new StringBuilder();
    b.append("## Evaluation").append(title == null ? "" : ": " + title).append("\n\n");
    if (!r.getPasskey().isEmpty()) {
      boolean base = r.getPasskey().stream().anyMatch(p -> p.getBaseAccuracy() != null);
      b.append("### Passkey retrieval\n\n");
      b.append(base ? "| length | trials | accuracy | base model |\n|---:|---:|---:|---:|\n"
          : "| length | trials | accuracy |\n|---:|---:|---:|\n");
      for (PasskeyResult p : r.getPasskey()) {
        b.append(String.format(Locale.ROOT, "| %d | %d | %s |", p.getLength(), p.getTrials(), percent(p.getAccuracy())));
        if (base) {
          b.append(' ').append(percent(p.getBaseAccuracy())).append(" |");
        }
        b.append('\n');
      }
      b.append('\n');
    }
    if (!r.getPerplexity().isEmpty()) {
      boolean base = r.getPerplexity().stream().anyMatch(p -> p.getBasePerplexity() != null);
      b.append("### Perplexity\n\n");
      b.append(base ? "| window | documents | perplexity | base model |\n|---:|---:|---:|---:|\n"
          : "| window | documents | perplexity |\n|---:|---:|---:|\n");
      for (PerplexityResult p : r.getPerplexity()) {
        b.append(String.format(Locale.ROOT, "| %d | %d | %s |", p.getLength(), p.getDocuments(),
            number(p.getPerplexity())));
        if (base) {
          b.append(' ').append(number(p.getBasePerplexity())).append(" |");
        }
        b.append('\n');
      }
      b.append('\n');
    }
    if (!r.getBenchmarks().isEmpty()) {
      boolean base = r.getBenchmarks().stream().anyMatch(x -> x.getBaseAccuracy() != null);
      b.append("### Benchmarks (log-likelihood multiple choice)\n\n");
      b.append(base ? "| task | shots | examples | acc | acc_norm | base acc | base acc_norm |\n"
          + "|---|---:|---:|---:|---:|---:|---:|\n"
          : "| task | shots | examples | acc | acc_norm |\n|---|---:|---:|---:|---:|\n");
      for (BenchmarkResult x : r.getBenchmarks()) {
        b.append(String.format(Locale.ROOT, "| %s | %d | %d | %s | %s |", x.getName(), x.getShots(), x.getExamples(),
            percent(x.getAccuracy()), percent(x.getAccuracyNorm())));
        if (base) {
          b.append(' ').append(percent(x.getBaseAccuracy())).append(" | ").append(percent(x.getBaseAccuracyNorm()))
              .append(" |");
        }
        b.append('\n');
      }
      b.append('\n');
    }
    return b.toString();
  }

  private static String percent(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
  }

  private static String number(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.3f", v);
  }

  private static <T> void plot(Path file, String title, String xTitle, String yTitle, List<T> rows,
      Function<T, Integer> x, Function<T, Double> extended, Function<T, Double> base, boolean unitRange)
      throws IOException {
    XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle)
        .build();
    Styler s = chart.getStyler();
    s.setLegendPosition(Styler.LegendPosition.OutsideS); // never over a curve's end point
    s.setLegendLayout(Styler.LegendLayout.Horizontal);
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    // a log axis labels only powers of ten: below a 16x spread (128..512, 4k..32k) a linear axis shows the lengths
    chart.getStyler().setXAxisLogarithmic(rows.size() > 1 && spread(rows, x) >= 16);
    chart.getStyler().setXAxisDecimalPattern("#");
    if (unitRange) {
      chart.getStyler().setYAxisMin(0.0);
      chart.getStyler().setYAxisMax(1.0);
    }
    series(chart, "extended model", rows, x, extended, new Color(0x1f77b4));
    series(chart, "base model", rows, x, base, new Color(0xff7f0e));
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static <T> double spread(List<T> rows, Function<T, Integer> x) {
    int min = rows.stream().map(x).min(Integer::compare).orElse(1);
    int max = rows.stream().map(x).max(Integer::compare).orElse(1);
    return (double) max / Math.max(1, min);
  }

  private static <T> void series(XYChart chart, String name, List<T> rows, Function<T, Integer> x,
      Function<T, Double> y, Color color) {
    List<Double> xs = new ArrayList<>();
    List<Double> ys = new ArrayList<>();
    for (T row : rows) {
      Double v = y.apply(row);
      if (v != null && Double.isFinite(v)) {
        xs.add((double) x.apply(row));
        ys.add(v);
      }
    }
    if (xs.isEmpty()) {
      return;
    }
    XYSeries series = chart.addSeries(name, xs, ys);
    series.setMarker(SeriesMarkers.CIRCLE);
    series.setLineColor(color);
    series.setMarkerColor(color);
    series.setLineStyle(new BasicStroke(2f));
  }
}
