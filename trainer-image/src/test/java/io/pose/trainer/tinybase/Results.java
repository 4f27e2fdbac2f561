package io.pose.trainer.tinybase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.ConfigExtension;
import io.pose.trainer.cli.Pose;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The paper's comparison at the tiny model's scale, written into docs/results.md: PoSE against full-length
 * fine-tuning at the target length, RandPos, and no training (the interpolation alone), for linear, NTK and YaRN
 * scaling; passkey accuracy and perplexity by length, and each method's training cost. Every trained variant is a
 * complete `pose run` of examples/tiny-pose.yaml with only `pose.method` and `ropeScaling.type` changed, on the same
 * long documents; "none" evaluates the base model with the extended config.json and no training, through `pose eval`.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@results [-Dtiny.args="--quick --out FILE"]</pre>
 */
public final class Results {
  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> METHODS = List.of("pose", "randpos", "full", "none");
  static final List<String> SCALINGS = List.of("linear", "ntk", "yarn");

  /** One variant's outcome. */
  record Row(String method, String scaling, Map<Integer, Double> passkey, Map<Integer, Double> basePasskey,
      Map<Integer, Double> perplexity, Map<Integer, Double> basePerplexity, double medianStepSeconds, int steps) {}

  /** How big a run is: the README-sized one, or the few steps CI runs. */
  record Size(int steps, int trials, List<String> methods, List<String> scalings) {
    static final Size FULL = new Size(300, 40, METHODS, SCALINGS);
    static final Size QUICK = new Size(4, 4, List.of("pose", "none"), List.of("yarn"));
  }

  public static void main(String[] args) throws Exception {
    Path repo = Path.of("").toAbsolutePath();
    Path out = repo.resolve("docs/results.md");
    Size size = Size.FULL;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> size = Size.QUICK;
        case "--out" -> out = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--quick, --out FILE)");
      }
    }
    Path work = Files.createTempDirectory("pose-results");
    List<Row> rows = run(repo, work, size, new PrintWriter(System.out, true));
    Files.writeString(out, markdown(rows, size, size == Size.QUICK ? "--quick" : ""));
    System.out.println("wrote " + out);
  }

  static List<Row> run(Path repo, Path work, Size size, PrintWriter log) throws IOException {
    Path examples = repo.resolve("examples");
    Path data = work.resolve("train-long.jsonl");
    longDocuments(examples.resolve("tiny/corpus/train.jsonl"), data);
    String template = Files.readString(examples.resolve("tiny-pose.yaml"))
        .replace("file:tiny/", "file://" + examples.resolve("tiny") + "/")
        .replace("file://" + examples.resolve("tiny") + "/corpus/train.jsonl", "file://" + data)
        .replace("    steps: 300", "    steps: " + size.steps())
        .replace("warmupSteps: 20", "warmupSteps: " + Math.min(20, size.steps()))
        .replace("checkpointEverySteps: 100", "checkpointEverySteps: " + Math.min(100, size.steps()))
        .replace("trials: 40", "trials: " + size.trials());
    List<Row> rows = new ArrayList<>();
    for (String scaling : size.scalings()) {
      for (String method : size.methods()) {
        Path ws = work.resolve(method + "-" + scaling);
        String spec = template.replaceAll("type: yarn[^\\n]*", "type: " + scaling)
            .replace("  pose:\n", "  pose:\n    method: " + (method.equals("none") ? "pose" : method) + "\n")
            .replace("file:../.pose/published/tiny-pose", "file://" + ws.resolve("published"))
            .replaceAll(method.equals("randpos") || method.equals("full") ? "    chunks: 2[^\\n]*\\n" : "(?!)", "");
        Path file = work.resolve(method + "-" + scaling + ".yaml");
        Files.writeString(file, spec);
        log.printf(Locale.ROOT, "%s, %s ...%n", method, scaling);
        if (method.equals("none")) {
          untrained(repo, file, ws, scaling);
        } else {
          pose(ws, "run", "-f", file.toString(), "--workspace", ws.toString(), "--progress", "none");
        }
        rows.add(row(method, scaling, ws));
        Row r = rows.get(rows.size() - 1);
        log.printf(Locale.ROOT, "  passkey %s, perplexity %s%n", r.passkey(), r.perplexity());
      }
    }
    return rows;
  }

  /** The base model with the extended config.json and no training, measured by `pose eval`. */
  static void untrained(Path repo, Path spec, Path ws, String scaling) throws IOException {
    Path base = repo.resolve("examples/tiny/base-model");
    for (String dir : List.of("base-model", "extended-model")) {
      Files.createDirectories(ws.resolve(dir));
      try (Stream<Path> files = Files.list(base)) {
        for (Path f : files.toList()) {
          Files.copy(f, ws.resolve(dir).resolve(f.getFileName()));
        }
      }
    }
    Path config = ws.resolve("extended-model/config.json");
    Files.writeString(config, ConfigExtension.extend(Files.readString(config), ConfigExtension.Plan.of(
        TinyBase.WINDOW, 4 * TinyBase.WINDOW, ConfigExtension.Scaling.valueOf(scaling.toUpperCase(Locale.ROOT))),
        config.toString()));
    Path heldOut = Files.createDirectories(ws.resolve("data/eval/perplexity"));
    Files.copy(repo.resolve("examples/tiny/corpus/held-out.jsonl"), heldOut.resolve("held-out.jsonl"));
    pose(ws, "eval", "--config", spec.toString(), "--workspace", ws.toString());
  }

  private static void pose(Path ws, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    if (code != 0) {
      throw new IllegalStateException("pose " + String.join(" ", args) + " exited with " + code + ":\n" + out + err);
    }
  }

  static Row row(String method, String scaling, Path ws) throws IOException {
    JsonNode r = JSON.readTree(ws.resolve("eval/results.json").toFile());
    Map<Integer, Double> passkey = new LinkedHashMap<>();
    Map<Integer, Double> basePasskey = new LinkedHashMap<>();
    for (JsonNode p : r.path("passkey")) {
      passkey.put(p.path("length").asInt(), p.path("accuracy").asDouble());
      basePasskey.put(p.path("length").asInt(), p.path("baseAccuracy").asDouble());
    }
    Map<Integer, Double> ppl = new LinkedHashMap<>();
    Map<Integer, Double> basePpl = new LinkedHashMap<>();
    for (JsonNode p : r.path("perplexity")) {
      ppl.put(p.path("length").asInt(), p.path("perplexity").asDouble());
      basePpl.put(p.path("length").asInt(), p.path("basePerplexity").asDouble());
    }
    List<Double> seconds = new ArrayList<>();
    Path log = ws.resolve("logs/train.jsonl");
    if (Files.exists(log)) {
      for (String line : Files.readAllLines(log)) {
        seconds.add(JSON.readTree(line).path("seconds").asDouble());
      }
    }
    double median = seconds.isEmpty() ? Double.NaN
        : seconds.stream().sorted().toList().get(seconds.size() / 2);
    return new Row(method, scaling, passkey, basePasskey, ppl, basePpl, median, seconds.size());
  }

  /**
   * The training documents joined into long ones (each at least 3,000 characters, about 650 tokens), so that
   * full-length fine-tuning gets 512-token samples and every method reads the same text.
   */
  static void longDocuments(Path from, Path to) throws IOException {
    List<String> out = new ArrayList<>();
    StringBuilder doc = new StringBuilder();
    for (String line : Files.readAllLines(from)) {
      doc.append(doc.isEmpty() ? "" : "\n").append(JSON.readTree(line).path("text").asText());
      if (doc.length() >= 3000) {
        out.add(JSON.writeValueAsString(Map.of("text", doc.toString())));
        doc.setLength(0);
      }
    }
    Files.write(to, out);
  }

  static String markdown(List<Row> rows, Size size, String flags) {
    StringBuilder b = new StringBuilder();
    b.append("# Results: the paper's claims at the tiny model's scale\n\n");
    b.append("Written by `trainer-image/src/test/java/io/pose/trainer/tinybase/Results.java`; regenerate with\n");
    b.append("`./mvnw -q -pl trainer-image test-compile exec:exec@results").append(flags.isEmpty() ? ""
        : " -Dtiny.args=\"" + flags + "\"").append("`.  \n");
    b.append("Machine: ").append(machine()).append("  \nDate: ").append(LocalDate.now()).append("\n\n");
    b.append("""
        The base model is examples/tiny/base-model (0.89M parameters, pretrained here at a 128-token window with plain
        RoPE). Each variant extends it to 512 tokens (factor 4) from examples/tiny-pose.yaml, changing only the method
        and the RoPE scaling, and trains %d steps of 16 samples on the same documents (the example's training corpus
        joined into documents of about 650 tokens): **PoSE** (128-token samples, 2 chunks, position ids up to 512),
        **RandPos** (128-token samples, random sorted position ids up to 512), **full** (full-length fine-tuning:
        512-token samples, positions 0..511) and **none** (the base weights with the extended config.json, no
        training). Passkey: %d trials per length, the evaluation's prompts (the length 512 is measured 100 tokens
        shorter, as the official script does at the model's maximum). Perplexity: examples/tiny/corpus/held-out.jsonl,
        sliding windows of the given length.

        """.formatted(size.steps(), size.trials()));
    List<Integer> lengths = rows.isEmpty() ? List.of() : new ArrayList<>(rows.get(0).passkey().keySet());
    List<Integer> pplLengths = rows.isEmpty() ? List.of() : new ArrayList<>(rows.get(0).perplexity().keySet());
    b.append("## Quality: passkey accuracy and perplexity by length\n\n| method | scaling |");
    lengths.forEach(l -> b.append(" passkey ").append(l).append(" |"));
    pplLengths.forEach(l -> b.append(" ppl ").append(l).append(" |"));
    b.append("\n|---|---|");
    lengths.forEach(l -> b.append("---:|"));
    pplLengths.forEach(l -> b.append("---:|"));
    b.append('\n');
    if (!rows.isEmpty()) {
      Row first = rows.get(0);
      b.append("| base model (no extension) | |");
      lengths.forEach(l -> b.append(' ').append(percent(first.basePasskey().get(l))).append(" |"));
      pplLengths.forEach(l -> b.append(String.format(Locale.ROOT, " %.2f |", first.basePerplexity().get(l))));
      b.append('\n');
    }
    for (Row r : rows) {
      b.append("| ").append(r.method()).append(" | ").append(r.scaling()).append(" |");
      lengths.forEach(l -> b.append(' ').append(percent(r.passkey().get(l))).append(" |"));
      pplLengths.forEach(l -> b.append(String.format(Locale.ROOT, " %.2f |", r.perplexity().get(l))));
      b.append('\n');
    }
    b.append("\n## Cost of training: median step time by method\n\n| method | scaling | tokens per sample | "
        + "positions reach | median step |\n|---|---|---:|---:|---:|\n");
    for (Row r : rows) {
      if (r.steps() > 0) {
        b.append(String.format(Locale.ROOT, "| %s | %s | %d | 512 | %.3f s |%n", r.method(), r.scaling(),
            r.method().equals("full") ? 512 : 128, r.medianStepSeconds()));
      }
    }
    return b.toString();
  }

  private static String percent(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * v);
  }

  static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse(cpu);
    } catch (IOException ignored) {
      // not Linux
    }
    return String.format(Locale.ROOT, "%d cores, %s, %d GiB RAM, Java %s", Runtime.getRuntime().availableProcessors(),
        cpu, Runtime.getRuntime().maxMemory() >> 30 > 0 ? totalMemoryGiB() : 0, Runtime.version());
  }

  private static long totalMemoryGiB() {
    try {
      return Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal"))
          .findFirst().map(l -> Long.parseLong(l.replaceAll("\\D", "")) >> 20).orElse(0L);
    } catch (IOException e) {
      return 0;
    }
  }

}
