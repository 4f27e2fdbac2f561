package io.pose.trainer.tinybase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.LocalPaths;
import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.PerplexityEvaluation;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.RopeScaling;
import io.pose.core.hf.ConfigExtension;
import io.pose.trainer.bench.CostCurve;
import io.pose.trainer.cli.Pose;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The paper's comparison at the tiny model's scale, written into docs/results.md: PoSE against full-length
 * fine-tuning at the target length, RandPos, and no training (the interpolation alone), for linear, NTK and YaRN
 * scaling; passkey accuracy and perplexity by length, and each method's training cost. Every trained variant is a
 * complete `pose run` of examples/tiny-pose.yaml with only `pose.method` and `ropeScaling.type` changed, on the same
 * long documents; "none" evaluates the base model with the extended config.json and no training, through `pose eval`.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@results [-Dtiny.args="--quick --out FILE --work DIR"]</pre>
 *
 * <p>With {@code --work DIR} the variants and cost points already measured in DIR are reused, not run again (to
 * redraw the figures and tables). {@code --spec FILE [--methods ...]} compares the variants of another spec (a real
 * pretrained model: tools/models/README.md) and writes them as a section of the same file, which the tiny model's
 * tables leave in place; with {@code --quick} each of its variants trains 2 steps and tries 1 passkey per length.
 */
public final class Results {
  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> METHODS = List.of("pose", "randpos", "full", "none");
  static final List<String> SCALINGS = List.of("linear", "ntk", "yarn");

  /**
   * One variant: a method and a RoPE scaling, trained on the joined long documents, or (exampleDocuments) on the
   * example's own short documents, exactly as examples/tiny-pose.yaml trains.
   */
  record Variant(String method, String scaling, boolean exampleDocuments) {
    String label() {
      return exampleDocuments ? method + ", the example's documents" : method;
    }
  }

  /** One variant's outcome. */
  record Row(String method, String scaling, boolean exampleDocuments, Map<Integer, Double> passkey,
      Map<Integer, Double> basePasskey, Map<Integer, Double> perplexity, Map<Integer, Double> basePerplexity,
      double medianStepSeconds, int steps) {
    String label() {
      return new Variant(method, scaling, exampleDocuments).label();
    }
  }

  /** How big a run is: the README-sized one, or the few steps CI runs; cost is the step-cost curve's plan. */
  record Size(int steps, int trials, List<Variant> variants, CostCurve.Plan cost) {
    static final Size FULL = new Size(300, 40, all(), new CostCurve.Plan(List.of(1, 2, 4, 8, 16), 16, 3, 12));
    static final Size QUICK = new Size(4, 4, List.of(new Variant("pose", "yarn", false),
        new Variant("none", "yarn", false)), new CostCurve.Plan(List.of(1, 2), 4, 1, 2));

    private static List<Variant> all() {
      List<Variant> v = new ArrayList<>();
      for (String scaling : SCALINGS) {
        METHODS.forEach(m -> v.add(new Variant(m, scaling, false)));
      }
      v.add(new Variant("pose", "yarn", true));
      return v;
    }
  }

  public static void main(String[] args) throws Exception {
    Path repo = Path.of("").toAbsolutePath();
    Path out = repo.resolve("docs/results.md");
    Size size = Size.FULL;
    Path specFile = null;
    Path work = null;
    List<String> methods = List.of("pose", "randpos", "none");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> size = Size.QUICK;
        case "--out" -> out = Path.of(args[++i]);
        case "--spec" -> specFile = Path.of(args[++i]);
        case "--methods" -> methods = List.of(args[++i].split(","));
        case "--work" -> work = Files.createDirectories(Path.of(args[++i]));
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + " (--quick, --out FILE, --work DIR, --spec FILE [--methods pose,randpos,full,none])");
      }
    }
    if (work == null) {
      work = Files.createTempDirectory("pose-results");
    }
    PrintWriter log = new PrintWriter(System.out, true);
    String previous = Files.exists(out) ? Files.readString(out) : "";
    if (specFile != null) {
      ContextExtension spec = SpecIO.read(specFile);
      String scaling = spec.getSpec().getRopeScaling().getType().name().toLowerCase(Locale.ROOT);
      // --quick: 2 steps and 1 passkey trial per variant (the spec's own otherwise)
      int quick = size == Size.QUICK ? 1 : 0;
      Size real = new Size(2 * quick, quick, methods.stream().map(m -> new Variant(m, scaling, false)).toList(), null);
      List<Row> rows = run(specFile, real, null, work, log);
      if (quick == 1) {
        // the section describes what ran
        spec.getSpec().getTraining().setSteps(real.steps());
        spec.getSpec().getEvaluation().getPasskey().setTrials(real.trials());
      }
      // the command as a reader reruns it: --work DIR only reused this machine's earlier measurements
      String args0 = String.join(" ", args).replaceAll("\\s*--(work|out)\\s+\\S+", "");
      String name = spec.getMetadata().getName();
      String figures = ResultsPlots.markdown(ResultsPlots.passkey(rows, spec.getSpec().getModel()
          .getOriginalContextLength(), spec.getSpec().getTargetContextLength(), figuresDir(out), name + "-"),
          out.toAbsolutePath().getParent());
      Provenance how = Provenance.of(work, "./mvnw -q -pl trainer-image test-compile exec:exec@results -Dtiny.args=\""
          + args0 + "\"");
      Files.writeString(out, withSection(previous, name, realModel(rows, spec,
          repo.relativize(specFile.toAbsolutePath()), how, figures)));
      System.out.println("wrote " + out);
      return;
    }
    // the cost curve first, on an idle machine: its step times are the ones compared
    Path points = work.resolve("cost/points.json");
    List<CostCurve.Point> cost;
    if (Files.exists(points)) {
      log.println("cost: the points measured in " + points);
      cost = List.of(JSON.readValue(points.toFile(), CostCurve.Point[].class));
    } else {
      cost = CostCurve.measure(repo.resolve("examples/tiny/base-model"), TinyBase.WINDOW, size.cost(),
          Files.createDirectories(work.resolve("cost")), log);
      JSON.writeValue(points.toFile(), cost);
    }
    List<Row> rows = run(repo, work, size, log);
    Path parent = out.toAbsolutePath().getParent();
    String figures = ResultsPlots.markdown(ResultsPlots.passkey(rows, TinyBase.WINDOW, 4 * TinyBase.WINDOW,
        figuresDir(out), ""), parent);
    String costFigures = ResultsPlots.markdown(ResultsPlots.cost(cost, TinyBase.WINDOW, figuresDir(out)), parent);
    String md = markdown(rows, cost, size, size == Size.QUICK ? "--quick" : "", figures, costFigures);
    String kept = sections(previous);
    Files.writeString(out, kept.isEmpty() ? md : md.stripTrailing() + "\n\n" + kept + "\n");
    System.out.println("wrote " + out);
  }

  static List<Row> run(Path repo, Path work, Size size, PrintWriter log) throws IOException {
    Path data = work.resolve("train-long.jsonl");
    longDocuments(repo.resolve("examples/tiny/corpus/train.jsonl"), data);
    return run(repo.resolve("examples/tiny-pose.yaml"), size, "file://" + data, work, log);
  }

  /**
   * Runs each variant of the size from the spec: a complete `pose run` with the method and RoPE scaling changed (and,
   * where the size says, the steps and trials, and the training documents unless the variant keeps the spec's), or
   * `pose eval` of the untrained model for "none". Only the first variant measures the base model too; the others
   * take its figures.
   *
   * @param documents the training data source of the variants that do not keep the spec's (null: all keep it)
   */
  static List<Row> run(Path specFile, Size size, String documents, Path work, PrintWriter log) throws IOException {
    ContextExtension template = SpecIO.read(specFile);
    LocalPaths.resolve(template, specFile);
    List<Row> rows = new ArrayList<>();
    for (Variant v : size.variants()) {
      String name = v.method() + "-" + v.scaling() + (v.exampleDocuments() ? "-example" : "");
      Path ws = work.resolve(name);
      ContextExtension variant = SpecIO.parse(SpecIO.toYaml(template), specFile.toString());
      ContextExtensionSpec spec = variant.getSpec();
      spec.getRopeScaling().setType(RopeScaling.Type.valueOf(v.scaling().toUpperCase(Locale.ROOT)));
      spec.getPose().setMethod(PoseSettings.Method.valueOf(
          (v.method().equals("none") ? "pose" : v.method()).toUpperCase(Locale.ROOT)));
      if (v.method().equals("randpos") || v.method().equals("full")) {
        spec.getPose().setChunks(null);
      }
      if (documents != null && !v.exampleDocuments()) {
        spec.getTraining().getData().setSource(documents);
      }
      if (size.steps() > 0) {
        spec.getTraining().setSteps(size.steps());
        spec.getTraining().setWarmupSteps(Math.min(spec.getTraining().getWarmupSteps(), size.steps()));
        spec.getTraining().setCheckpointEverySteps(Math.min(spec.getTraining().getCheckpointEverySteps(),
            size.steps()));
        spec.getEvaluation().getPasskey().setTrials(size.trials());
      }
      spec.getEvaluation().setCompareWithBase(rows.isEmpty());
      spec.getPublish().setTarget("file://" + ws.resolve("published"));
      Path file = work.resolve(name + ".yaml");
      Files.writeString(file, SpecIO.toYaml(variant));
      log.printf(Locale.ROOT, "%s, %s ...%n", v.label(), v.scaling());
      if (Files.exists(ws.resolve("eval/results.json"))) {
        log.println("  measured before in " + ws);
      } else if (v.method().equals("none")) {
        untrained(spec, file, ws);
      } else {
        pose(ws, "run", "-f", file.toString(), "--workspace", ws.toString(), "--progress", "none");
      }
      Row r = row(v, ws, rows.isEmpty() ? null : rows.get(0));
      rows.add(r);
      log.printf(Locale.ROOT, "  passkey %s, perplexity %s%n", r.passkey(), r.perplexity());
    }
    return rows;
  }

  /** The base model with the extended config.json and no training, measured by `pose eval`. */
  static void untrained(ContextExtensionSpec spec, Path specFile, Path ws) throws IOException {
    Path base = Path.of(URI.create(spec.getModel().getSource()));
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
        spec.getModel().getOriginalContextLength(), spec.getTargetContextLength(),
        ConfigExtension.Scaling.valueOf(spec.getRopeScaling().getType().name())), config.toString()));
    PerplexityEvaluation ppl = spec.getEvaluation().getPerplexity();
    if (ppl != null) {
      Path heldOut = Path.of(URI.create(ppl.getData().getSource()));
      Path to = Files.createDirectories(ws.resolve("data/eval/perplexity"));
      Files.copy(heldOut, to.resolve(heldOut.getFileName()));
    }
    pose(ws, "eval", "--config", specFile.toString(), "--workspace", ws.toString());
  }

  private static void pose(Path ws, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    if (code != 0) {
      throw new IllegalStateException("pose " + String.join(" ", args) + " exited with " + code + ":\n" + out + err);
    }
  }

  /** A variant's figures from its eval/results.json; the base model's from `first` where this run did not measure. */
  static Row row(Variant v, Path ws, Row first) throws IOException {
    JsonNode r = JSON.readTree(ws.resolve("eval/results.json").toFile());
    Map<Integer, Double> passkey = new LinkedHashMap<>();
    Map<Integer, Double> basePasskey = new LinkedHashMap<>();
    for (JsonNode p : r.path("passkey")) {
      passkey.put(p.path("length").asInt(), p.path("accuracy").asDouble());
      basePasskey.put(p.path("length").asInt(), number(p.path("baseAccuracy")));
    }
    Map<Integer, Double> ppl = new LinkedHashMap<>();
    Map<Integer, Double> basePpl = new LinkedHashMap<>();
    for (JsonNode p : r.path("perplexity")) {
      ppl.put(p.path("length").asInt(), p.path("perplexity").asDouble());
      basePpl.put(p.path("length").asInt(), number(p.path("basePerplexity")));
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
    return new Row(v.method(), v.scaling(), v.exampleDocuments(), passkey,
        first != null && basePasskey.values().stream().allMatch(d -> d.isNaN()) ? first.basePasskey() : basePasskey,
        ppl, first != null && basePpl.values().stream().allMatch(d -> d.isNaN()) ? first.basePerplexity() : basePpl,
        median, seconds.size());
  }

  private static double number(JsonNode n) {
    return n.isNumber() ? n.asDouble() : Double.NaN;
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

  /** Where the figures of a results file go: results/ beside it. */
  static Path figuresDir(Path out) {
    return out.toAbsolutePath().getParent().resolve("results");
  }

  static String markdown(List<Row> rows, List<CostCurve.Point> cost, Size size, String flags, String figures,
      String costFigures) {
    StringBuilder b = new StringBuilder();
    b.append("# Results: the paper's claims at the tiny model's scale\n\n");
    b.append("Written by `trainer-image/src/test/java/io/pose/trainer/tinybase/Results.java`; regenerate with\n");
    b.append("`./mvnw -q -pl trainer-image test-compile exec:exec@results").append(flags.isEmpty() ? ""
        : " -Dtiny.args=\"" + flags + "\"").append("` (about 25 minutes on 2 cores).  \n");
    b.append("Machine: ").append(machine()).append("  \nDate: ").append(LocalDate.now()).append("\n\n");
    b.append("""
        The base model is examples/tiny/base-model (0.89M parameters, pretrained here at a 128-token window with plain
        RoPE). Each variant extends it to 512 tokens (factor 4) from examples/tiny-pose.yaml, changing only the method,
        the RoPE scaling and the training documents, and trains %d steps of 16 samples: **PoSE** (128-token samples,
        2 chunks by the official rule, position ids up to 512), **RandPos** (128-token samples, random sorted position
        ids up to 512), **full** (full-length fine-tuning: 512-token samples, positions 0..511) and **none** (the base
        weights with the extended config.json, no training). Passkey: %d trials per length, the evaluation's prompts
        (the length 512 is measured 100 tokens shorter, as the official script does at the model's maximum).
        Perplexity: examples/tiny/corpus/held-out.jsonl, sliding windows of the given length.

        **The training documents.** Full-length fine-tuning at 512 needs documents of at least 512 tokens, and the
        example's corpus holds short ones (130 to 220 tokens). So that every method reads the same text, the comparison
        joins the corpus into documents of about 650 tokens. The last row trains PoSE exactly as the embedded example
        does, on the corpus's own documents.

        """.formatted(size.steps(), size.trials()));
    b.append("## Quality: passkey accuracy and perplexity by length\n\n");
    b.append(quality(rows));
    b.append(figures.isEmpty() ? "" : "\n" + figures);
    b.append(reading(rows));
    b.append(window(rows, TinyBase.WINDOW, "##"));
    b.append(windowReading(rows, TinyBase.WINDOW));
    b.append(cost(cost, size));
    b.append(costFigures.isEmpty() ? "" : "\n" + costFigures);
    b.append("\n### Cost of each variant above: median step time\n\n");
    b.append(steps(rows, 128, 512));
    return b.toString();
  }

  /** The quality table: passkey accuracy and perplexity by length, the base model's first. */
  static String quality(List<Row> rows) {
    StringBuilder b = new StringBuilder();
    List<Integer> lengths = rows.isEmpty() ? List.of() : new ArrayList<>(rows.get(0).passkey().keySet());
    List<Integer> pplLengths = rows.isEmpty() ? List.of() : new ArrayList<>(rows.get(0).perplexity().keySet());
    b.append("| method | scaling |");
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
      b.append("| ").append(r.label()).append(" | ").append(r.scaling()).append(" |");
      lengths.forEach(l -> b.append(' ').append(percent(r.passkey().get(l))).append(" |"));
      pplLengths.forEach(l -> b.append(String.format(Locale.ROOT, " %.2f |", r.perplexity().get(l))));
      b.append('\n');
    }
    return b.toString();
  }

  /** Each trained variant's median step time. */
  static String steps(List<Row> rows, int window, int target) {
    StringBuilder b = new StringBuilder("| method | scaling | tokens per sample | positions reach | median step |\n"
        + "|---|---|---:|---:|---:|\n");
    for (Row r : rows) {
      if (r.steps() > 0) {
        b.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %.3f s |%n", r.label(), r.scaling(),
            r.method().equals("full") ? target : window, target, r.medianStepSeconds()));
      }
    }
    return b.toString();
  }

  /** A real-model section, markers included: one per spec, named by the spec's metadata.name. */
  private static final Pattern SECTION = Pattern.compile(
      "<!-- real-model:([A-Za-z0-9.-]+):begin -->.*?<!-- real-model:\\1:end -->", Pattern.DOTALL);

  static String begin(String name) {
    return "<!-- real-model:" + name + ":begin -->";
  }

  static String end(String name) {
    return "<!-- real-model:" + name + ":end -->";
  }

  /** The real-model sections of a results.md, markers included, in the order they appear ("" when none). */
  static String sections(String doc) {
    List<String> found = new ArrayList<>();
    Matcher m = SECTION.matcher(doc);
    while (m.find()) {
      found.add(m.group());
    }
    return String.join("\n\n", found);
  }

  /** The document with the named spec's real-model section replaced by this one, or this one appended. */
  static String withSection(String doc, String name, String section) {
    Matcher m = SECTION.matcher(doc);
    while (m.find()) {
      if (m.group(1).equals(name)) {
        return doc.substring(0, m.start()) + section + doc.substring(m.end());
      }
    }
    return doc.stripTrailing() + "\n\n" + section + "\n";
  }

  /**
   * How the variants of a work directory were measured: the machine, and the command a reader reruns. Read from
   * machine.txt and command.txt in the directory where a run put them (a GPU machine's script does, and then the
   * section can be rewritten anywhere from its measurements), else this machine and the given command, written there.
   */
  record Provenance(String machine, String command) {
    static Provenance of(Path work, String command) throws IOException {
      Path m = work.resolve("machine.txt");
      Path c = work.resolve("command.txt");
      if (!Files.exists(m)) {
        Files.writeString(m, Results.machine() + "\n");
      }
      if (!Files.exists(c)) {
        Files.writeString(c, "`" + command + "`\n");
      }
      return new Provenance(Files.readString(m).strip(), Files.readString(c).strip());
    }
  }

  /** The section for a real pretrained model's comparison, run from its spec. */
  static String realModel(List<Row> rows, ContextExtension resource, Path specFile, Provenance how, String figures) {
    ContextExtensionSpec spec = resource.getSpec();
    int original = spec.getModel().getOriginalContextLength();
    int target = spec.getTargetContextLength();
    var t = spec.getTraining();
    var passkey = spec.getEvaluation().getPasskey();
    String name = resource.getMetadata().getName();
    StringBuilder b = new StringBuilder(begin(name)).append('\n');
    b.append(String.format(Locale.ROOT, """
        ## A real pretrained model: %s, %d -> %d tokens

        Written by the same program: %s, after the recipe in
        [tools/models/README.md](../tools/models/README.md) has imported the model and written the corpus.  \n\
        Machine: %s  \nDate: %s

        The spec is [%s](../%s): %s scaling (factor %s); %d training steps of %d samples of %d tokens (the training
        window%s) whose position ids reach %d, learning rate %s, %s. Each variant changes only the method: %s.
        Passkey: %d trials per length; perplexity: the spec's held-out documents, sliding windows of the given length.
        %s
        """, spec.getModel().getSource().replaceAll(".*/", ""), original, target, how.command(), how.machine(),
        LocalDate.now(),
        specFile, specFile, spec.getRopeScaling().getType().name().toLowerCase(Locale.ROOT),
        spec.getRopeScaling().getFactor() == null ? String.format(Locale.ROOT, "%.0f", (double) target / original)
            : spec.getRopeScaling().getFactor(),
        t.getSteps(), t.getGlobalBatchSize(), spec.getPose().getTrainingWindow(),
        rows.stream().anyMatch(r -> r.method().equals("full")) ? String.format(Locale.ROOT,
            "; full-length fine-tuning's have up to %d", target) : "", target, t.getLearningRate(),
        t.getPrecision(),
        String.join(", ", rows.stream().map(Row::label).toList()), passkey.getTrials(),
        passkey.getTrials() < 20 ? String.format(Locale.ROOT, "With %d trials each trial moves a passkey figure by "
            + "%.0f points: the passkey columns show where retrieval holds and where it breaks, not accuracies to "
            + "compare closely.%n", passkey.getTrials(), 100.0 / passkey.getTrials()) : ""));
    b.append(quality(rows)).append('\n');
    b.append(figures.isEmpty() ? "" : figures + "\n");
    b.append(realReading(rows, original, passkey.getTrials()));
    Integer gpus = spec.getResources() == null ? null : spec.getResources().getGpusPerNode();
    if (gpus != null && gpus == 0 && rows.stream().noneMatch(r -> r.method().equals("full"))) {
      b.append(String.format(Locale.ROOT, "Full-length fine-tuning is not among the variants: its samples have %d "
          + "tokens, more than this machine trains in the time. On a GPU, [tools/gpu/results.sh](../tools/gpu/"
          + "README.md#the-smollm2-comparison-at-32k-resultssh) runs the comparison with it, at 32k.%n%n", target));
    }
    b.append(window(rows, original, "###")).append('\n');
    b.append("### Cost of each variant: median step time\n\n");
    b.append(steps(rows, spec.getPose().getTrainingWindow(), target));
    return b.append(end(name)).toString();
  }

  /**
   * What a real model's quality table says beyond the original window, computed from it: where the base model breaks,
   * each method's mean passkey accuracy over the lengths past the window and its perplexity at the longest length, and
   * how that ranks against the paper's finding (PoSE close to full-length fine-tuning, ahead of RandPos and of the
   * interpolation alone). Empty when nothing was measured past the window.
   */
  static String realReading(List<Row> rows, int original, int trials) {
    if (rows.isEmpty()) {
      return "";
    }
    Row first = rows.get(0);
    List<Integer> beyond = first.passkey().keySet().stream().filter(l -> l > original).sorted().toList();
    int pplTop = first.perplexity().keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
    if (beyond.isEmpty() || pplTop <= original) {
      return "";
    }
    StringBuilder b = new StringBuilder("**What it shows.** ");
    b.append(String.format(Locale.ROOT, "Past its %d-token window (%d to %d tokens) the base model retrieves the pass "
        + "key %s of the time, and its perplexity at %d is %s. Over the same lengths, mean passkey accuracy (%d "
        + "prompts each) and perplexity at %d after each method:%n%n", original, beyond.get(0),
        beyond.get(beyond.size() - 1), percent(mean(first.basePasskey(), beyond)), pplTop,
        decimal(value(first.basePerplexity(), pplTop)), beyond.size() * trials, pplTop));
    // lowest perplexity first; a variant without one (not measured) last
    List<Row> byPerplexity = rows.stream().sorted(java.util.Comparator.comparingDouble((Row r) -> {
      double p = value(r.perplexity(), pplTop);
      return Double.isNaN(p) ? Double.POSITIVE_INFINITY : p;
    })).toList();
    for (Row r : byPerplexity) {
      b.append(String.format(Locale.ROOT, "- %s: passkey %s, perplexity %s%n", r.label(),
          percent(mean(r.passkey(), beyond)), decimal(value(r.perplexity(), pplTop))));
    }
    Row pose = find(rows, "pose", first.scaling(), false);
    if (pose == null) {
      return b.append('\n').toString();
    }
    double posePpl = value(pose.perplexity(), pplTop);
    double posePass = mean(pose.passkey(), beyond);
    // one prompt of the mean: differences smaller than that are within a single trial
    double onePrompt = 1.0 / (beyond.size() * trials);
    List<String> said = new ArrayList<>();
    for (String other : List.of("full", "randpos", "none")) {
      Row o = find(rows, other, first.scaling(), false);
      if (o == null) {
        continue;
      }
      double ppl = value(o.perplexity(), pplTop);
      double pass = mean(o.passkey(), beyond);
      if (Double.isNaN(ppl) || Double.isNaN(pass) || Double.isNaN(posePpl) || Double.isNaN(posePass)) {
        continue;
      }
      String name = switch (other) {
        case "full" -> "full-length fine-tuning";
        case "randpos" -> "RandPos";
        default -> "the interpolation alone";
      };
      String passText = Math.abs(posePass - pass) <= onePrompt + 1e-9 ? "no clear passkey difference (one prompt or less)"
          : posePass > pass ? "a higher passkey accuracy" : "a lower passkey accuracy";
      double change = 100 * (posePpl / ppl - 1);
      String pplText = Math.abs(change) < 0.5 ? "the same perplexity" : String.format(Locale.ROOT,
          "a perplexity %.0f%% %s", Math.abs(change), change < 0 ? "lower" : "higher");
      said.add(String.format(Locale.ROOT, "against %s, PoSE has %s and %s", name, passText, pplText));
    }
    if (!said.isEmpty()) {
      b.append("\nThe paper finds PoSE close to full-length fine-tuning and ahead of RandPos and of the interpolation "
          + "alone. Here, ").append(String.join("; ", said)).append(".\n");
    }
    return b.append('\n').toString();
  }

  /** The mean over the lengths, NaN unless every one was measured. */
  private static double mean(Map<Integer, Double> byLength, List<Integer> lengths) {
    return lengths.stream().mapToDouble(l -> value(byLength, l)).average().orElse(Double.NaN);
  }

  /** The figure at a length, NaN where it was not measured. */
  private static double value(Map<Integer, Double> byLength, int length) {
    Double v = byLength.get(length);
    return v == null ? Double.NaN : v;
  }

  private static String decimal(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
  }

  /** What the quality table says, with its own figures, and why where the reason is known. */
  static String reading(List<Row> rows) {
    Row poseLong = find(rows, "pose", "yarn", false);
    Row poseShort = find(rows, "pose", "yarn", true);
    Row full = find(rows, "full", "yarn", false);
    Row none = find(rows, "none", "yarn", false);
    if (poseLong == null || poseShort == null || full == null || none == null) {
      return "\n";
    }
    int top = poseLong.passkey().keySet().stream().mapToInt(Integer::intValue).max().orElseThrow();
    int window = poseLong.passkey().keySet().stream().mapToInt(Integer::intValue).min().orElseThrow();
    double fullTop = full.passkey().get(top);
    boolean shortClose = poseShort.passkey().get(top) >= fullTop - 0.1;
    boolean longClose = poseLong.passkey().get(top) >= fullTop - 0.1;
    String verdict = shortClose && !longClose ? "at this scale that holds on short documents and not on long ones"
        : shortClose ? "at this scale that holds on both kinds of documents"
        : longClose ? "at this scale that holds on long documents and not on short ones"
        : "at this scale it holds on neither kind of document";
    Row linearPose = find(rows, "pose", "linear", false);
    String linear = linearPose != null && linearPose.passkey().get(top) < poseLong.passkey().get(top)
        ? String.format(Locale.ROOT, " Linear interpolation does worse than YaRN (PoSE: %s at %d): it compresses the "
            + "high RoPE frequencies exact copying relies on, and %d steps do not recover them at this size; YaRN "
            + "leaves them alone.", percent(linearPose.passkey().get(top)), top, linearPose.steps())
        : "";
    return String.format(Locale.ROOT, """

        **What it shows.** Trained as the embedded example trains, PoSE with YaRN retrieves the pass key at %d tokens
        %s of the time (base model: %s), at the training cost of %d-token samples. On the joined long documents the
        same PoSE run reaches %s at %d, full-length fine-tuning %s, and YaRN with no training %s (but %s inside the
        window, against PoSE's %s). The paper reports PoSE close to full-length fine-tuning; %s. The reason lies in
        the official sampling rule: the second chunk's text
        ends at a point drawn uniformly over the whole document, independently of the position skip, so on a
        650-token document the text between the two chunks, often hundreds of tokens, is dropped. A retrieval episode
        split across the chunks loses its key line, and training teaches the model to answer from nearby text. On the
        example's documents the dropped gap is a few dozen tokens at most: the text stays together while the
        positions skip, so key and question sit far apart in position but together in the text, which is what
        retrieval at %d needs. The paper trains on The Pile, whose documents are not built of retrieval episodes, so
        this does not show there.%s

        """, top, percent(poseShort.passkey().get(top)), percent(poseShort.basePasskey().get(top)), window,
        percent(poseLong.passkey().get(top)), top, percent(full.passkey().get(top)), percent(none.passkey().get(top)),
        percent(none.passkey().get(window)), percent(poseLong.passkey().get(window)), verdict, top, linear);
  }

  /** The original window's quality before and after: passkey and perplexity at the training window. */
  static String window(List<Row> rows, int original, String level) {
    if (rows.isEmpty()) {
      return "";
    }
    // the longest measured lengths inside the original window
    int w = rows.get(0).passkey().keySet().stream().mapToInt(Integer::intValue).filter(l -> l <= original).max()
        .orElse(0);
    int pw = rows.get(0).perplexity().keySet().stream().mapToInt(Integer::intValue).filter(l -> l <= original).max()
        .orElse(0);
    if (w == 0 || pw == 0) {
      return "";
    }
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, """
        %s The original window kept: quality at %d tokens before and after

        | method | scaling | passkey %d, base | passkey %d, after | perplexity %d, base | perplexity %d, after | change |
        |---|---|---:|---:|---:|---:|---:|
        """, level, w, w, w, pw, pw));
    for (Row r : rows) {
      double before = r.basePerplexity().get(pw);
      double after = r.perplexity().get(pw);
      b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.2f | %.2f | %+.0f%% |%n", r.label(), r.scaling(),
          percent(r.basePasskey().get(w)), percent(r.passkey().get(w)), before, after, 100 * (after / before - 1)));
    }
    return b.toString();
  }

  /** What the original window's table says: which methods kept or lost quality inside the window. */
  static String windowReading(List<Row> rows, int window) {
    if (rows.isEmpty() || !rows.get(0).perplexity().containsKey(window)) {
      return "";
    }
    List<String> better = new ArrayList<>();
    List<String> worse = new ArrayList<>();
    for (String method : List.of("pose", "full", "randpos", "none")) {
      List<Row> these = rows.stream().filter(r -> r.method().equals(method) && !r.exampleDocuments()).toList();
      if (these.isEmpty()) {
        continue;
      }
      boolean allBetter = these.stream().allMatch(r -> r.perplexity().get(window) < r.basePerplexity().get(window));
      boolean allWorse = these.stream().allMatch(r -> r.perplexity().get(window) > r.basePerplexity().get(window));
      (allBetter ? better : allWorse ? worse : new ArrayList<String>()).add(method);
    }
    return String.format(Locale.ROOT, """

        Inside the window, perplexity falls after %s with every scaling (the held-out text comes from the same
        generator as the training text, so training on it helps at any length) and rises after %s: RandPos trains on
        position ids whose gaps the model never meets at inference, and the untrained variants show what the
        interpolation alone costs.
        """, better.isEmpty() ? "no method" : String.join(" and ", better),
        worse.isEmpty() ? "no method" : String.join(" and ", worse));
  }

  /** The step-cost curve: PoSE and full-length fine-tuning at growing targets, against training at the window. */
  static String cost(List<CostCurve.Point> points, Size size) {
    if (points.isEmpty()) {
      return "";
    }
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, """

        ## Cost: step time and memory as the target grows (the paper's Figure 3)

        One optimizer step of the real trainer (forward, loss, backward, clipping, AdamW; fp32, %d threads) on the
        base model, %d samples per step, at targets %s times the 128-token window, each point in a JVM of its own so
        that its peak resident memory (JVM and libtorch included, about 0.4 GiB of it before the first step) is its
        own; median of %d steps after %d of warm-up. PoSE samples have 128 tokens whatever the target;
        full-length samples have as many tokens as the target.

        """, Runtime.getRuntime().availableProcessors(), size.cost().batch(), size.cost().factors(),
        size.cost().measured(), size.cost().warmup()));
    b.append(CostCurve.table(points));
    if (points.stream().anyMatch(p -> p.method().equals("pose"))) {
      int top = size.cost().factors().stream().mapToInt(Integer::intValue).max().orElseThrow();
      b.append(String.format(Locale.ROOT, """

          PoSE at %dx against training at the window: **%.2f** in step time (goal: at most 1.05) and %.2f in peak
          memory. PoSE's positions change only the RoPE angles, computed per sample; the attention and every other
          tensor keep the window's shape.
          """, top, CostCurve.poseFlatness(points), points.stream().filter(p -> p.method().equals("pose")
          && p.factor() == top).findFirst().orElseThrow().peakRssBytes() / (double) points.get(0).peakRssBytes()));
    }
    return b.toString();
  }

  private static Row find(List<Row> rows, String method, String scaling, boolean exampleDocuments) {
    return rows.stream().filter(r -> r.method().equals(method) && r.scaling().equals(scaling)
        && r.exampleDocuments() == exampleDocuments).findFirst().orElse(null);
  }

  private static String percent(Double v) {
    return v == null || v.isNaN() ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * v);
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
