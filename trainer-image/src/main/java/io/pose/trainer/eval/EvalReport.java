package io.pose.trainer.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.EvaluationResults.BenchmarkResult;
import io.pose.api.progress.EvaluationResults.PasskeyResult;
import io.pose.api.progress.EvaluationResults.PerplexityResult;
import io.pose.api.progress.ProgressProtocol;
import io.pose.trainer.io.AtomicDirectory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

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

  /** The lengths the plots mark: the model's original window and the target (either may be null). */
  public record Marks(Integer originalWindow, Integer target) {
    static final Marks NONE = new Marks(null, null);
  }

  /** Writes the directory (replacing it atomically), with no lengths marked on the plots. */
  public static void write(Path directory, EvaluationResults results, String title) throws IOException {
    write(directory, results, title, Marks.NONE);
  }

  /** Writes the directory (replacing it atomically). */
  public static void write(Path directory, EvaluationResults results, String title, Marks marks) throws IOException {
    write(directory, results, title, marks, null);
  }

  /**
   * Writes the directory (replacing it atomically), with training.png from the Train stage's log when it is given
   * and holds steps.
   */
  public static void write(Path directory, EvaluationResults results, String title, Marks marks, Path trainLog)
      throws IOException {
    String json = JSON.writeValueAsString(JSON.readTree(ProgressProtocol.write(results)));
    boolean training = trainLog != null && Files.isRegularFile(trainLog) && !TrainingPlot.read(trainLog).isEmpty();
    String markdown = markdown(results, title) + (training ? "### Training\n\nLoss and learning rate by step: "
        + "[" + TrainingPlot.FILE + "](" + TrainingPlot.FILE + ")\n\n" : "");
    AtomicDirectory.write(directory, dir -> {
      if (training) {
        TrainingPlot.write(trainLog, dir.resolve(TrainingPlot.FILE), title);
      }
      Files.writeString(dir.resolve(RESULTS_JSON), json + "\n", StandardCharsets.UTF_8);
      Files.writeString(dir.resolve(RESULTS_MARKDOWN), markdown, StandardCharsets.UTF_8);
      if (!results.getPasskey().isEmpty()) {
        passkeyChart(results, title, marks).save(dir.resolve(PASSKEY_PLOT));
      }
      if (!results.getPerplexity().isEmpty()) {
        perplexityChart(results, title, marks).save(dir.resolve(PERPLEXITY_PLOT));
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

  /** passkey.png: accuracy against prompt length, extended and base model, window and target marked. */
  public static LengthChart passkeyChart(EvaluationResults r, String title, Marks marks) {
    return chart(LengthChart.of(title("Passkey retrieval", title), "prompt length (tokens)", "accuracy",
        r.getPasskey().stream().map(PasskeyResult::getLength).toList()).unitRange(), marks, r.getPasskey(),
        PasskeyResult::getLength, PasskeyResult::getAccuracy, PasskeyResult::getBaseAccuracy);
  }

  /** perplexity.png: perplexity against window length, extended and base model, window and target marked. */
  public static LengthChart perplexityChart(EvaluationResults r, String title, Marks marks) {
    return chart(LengthChart.of(title("Perplexity", title), "window length (tokens)", "perplexity",
        r.getPerplexity().stream().map(PerplexityResult::getLength).toList()), marks, r.getPerplexity(),
        PerplexityResult::getLength, PerplexityResult::getPerplexity, PerplexityResult::getBasePerplexity);
  }

  private static String title(String what, String title) {
    return title == null ? what : what + ": " + title;
  }

  private static <T> LengthChart chart(LengthChart chart, Marks marks, List<T> rows, Function<T, Integer> length,
      Function<T, Double> extended, Function<T, Double> base) {
    if (marks.originalWindow() != null) {
      chart.mark(marks.originalWindow(), "original window " + marks.originalWindow());
    }
    if (marks.target() != null) {
      chart.mark(marks.target(), "target " + marks.target());
    }
    Map<Integer, Double> e = new LinkedHashMap<>();
    Map<Integer, Double> b = new LinkedHashMap<>();
    for (T row : rows) {
      e.put(length.apply(row), extended.apply(row));
      b.put(length.apply(row), base.apply(row));
    }
    return chart.series("extended model", e).series("base model", b);
  }
}
