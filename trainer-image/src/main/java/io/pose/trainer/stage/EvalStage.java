package io.pose.trainer.stage;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.EvaluationResults.BenchmarkResult;
import io.pose.api.progress.EvaluationResults.PasskeyResult;
import io.pose.api.progress.EvaluationResults.PerplexityResult;
import io.pose.api.v1alpha1.BenchmarkTask;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import io.pose.api.v1alpha1.EvaluationSettings;
import io.pose.api.v1alpha1.PasskeyEvaluation;
import io.pose.api.v1alpha1.PerplexityEvaluation;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.data.DataException;
import io.pose.trainer.data.TextRecords;
import io.pose.trainer.eval.EvalReport;
import io.pose.trainer.eval.LanguageModel;
import io.pose.trainer.eval.MultipleChoice;
import io.pose.trainer.eval.Passkey;
import io.pose.trainer.eval.Perplexity;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The Evaluate stage: passkey retrieval, sliding-window perplexity and multiple-choice benchmarks on the extended
 * model in the workspace, and with {@code compareWithBase} on the base model with the same prompts and documents.
 * Results grow as each length or task finishes: every update goes to the listener (the progress ConfigMap) and
 * into {@code eval/} (results.json, results.md, plots), written atomically.
 *
 * <p>Reads {@code extended-model/}, {@code base-model/} and the fetched data under {@code data/eval/}. Missing
 * inputs exit with code 3, a spec that breaks a rule with code 2.
 */
public final class EvalStage {
  private EvalStage() {}

  /** Least time between two progress lines inside one length. */
  static final long PROGRESS_NANOS = 30_000_000_000L;

  /**
   * @param block tokens per block of inference (attention memory grows with block x length)
   * @param listener receives the results after each length and task
   */
  public record Options(Path workspace, PrintWriter log, Consumer<EvaluationResults> listener, int block,
      ComputeType compute) {}

  /**
   * The device of the evaluation: the first GPU of the pod when the spec gives evaluation GPUs (training on GPUs and
   * spec.evaluation.gpus above 0; they must be there), the CPU otherwise.
   */
  static ai.djl.Device device(ContextExtensionSpec spec, PrintWriter log) throws StageException {
    Integer gpus = spec.getEvaluation() == null ? null : spec.getEvaluation().getGpus();
    if (spec.getResources().getGpusPerNode() == 0 || gpus == null || gpus == 0) {
      return ai.djl.Device.cpu();
    }
    Devices.require(gpus, "spec.evaluation.gpus");
    log.printf("device: GPU 0 of %d%n", gpus);
    return ai.djl.Device.gpu(0);
  }

  public static EvaluationResults run(ContextExtension resource, Options options) throws StageException, IOException {
    List<Violation> violations = SpecValidator.validate(resource);
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    Path workspace = options.workspace();
    Path baseDir = workspace.resolve(Workspace.BASE_MODEL);
    Path extendedDir = workspace.resolve(Workspace.EXTENDED_MODEL);
    ModelConfig base = readConfig(baseDir, "the Fetch stage writes the base model there");
    readConfig(extendedDir, "the Train stage writes the extended model there");
    violations = SpecValidator.validateWithModel(resource.getSpec(), base.originalContextLength());
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    ContextExtensionSpec spec = SpecDefaults.apply(resource.getSpec(), base.originalContextLength());
    EvaluationSettings e = spec.getEvaluation();
    EvaluationResults results = new EvaluationResults();
    PrintWriter log = options.log();
    if (e == null || !e.hasAny()) {
      log.println("spec.evaluation configures nothing to measure: nothing to do");
      results.setCompleted(true);
      return publish(results, options, resource);
    }
    boolean compare = Boolean.TRUE.equals(e.getCompareWithBase());
    ai.djl.Device device = device(spec, log);

    // read every input before the first model runs, so a missing file fails in seconds, not after hours
    List<String> perplexityTexts = e.getPerplexity() == null ? null
        : texts(workspace.resolve(Workspace.EVAL_PERPLEXITY_DATA), e.getPerplexity().getData(),
            "spec.evaluation.perplexity.data");
    List<List<MultipleChoice.Question>> tasks = new ArrayList<>();
    if (e.getBenchmarks() != null) {
      for (int i = 0; i < e.getBenchmarks().size(); i++) {
        BenchmarkTask t = e.getBenchmarks().get(i);
        Path source = workspace.resolve(Workspace.EVAL_BENCHMARK_DATA).resolve(t.getName());
        try {
          tasks.add(MultipleChoice.load(t.getName(), source, t.getShots()));
        } catch (DataException ex) {
          throw new StageException(ExitCode.MISSING_INPUT, "spec.evaluation.benchmarks[" + i + "] (" + t.getName()
              + "): " + ex.getMessage(), ex);
        }
      }
    }

    try (LanguageModel extended = load(extendedDir, options, device);
        LanguageModel baseModel = compare ? load(baseDir, options, device) : null) {
      log.printf(Locale.ROOT, "evaluating %s%s%n", extendedDir, compare ? " and the base model " + baseDir : "");
      io.pose.trainer.fetch.FetchManifest.read(baseDir).ifPresent(m -> log.printf(Locale.ROOT,
          "base model: %s at revision %s%n", m.source(), m.revision()));
      if (e.getPasskey() != null) {
        passkey(e.getPasskey(), spec.getTargetContextLength(), extended, baseModel, results, options, resource);
      }
      if (e.getPerplexity() != null) {
        perplexity(e.getPerplexity(), perplexityTexts, extended, baseModel, results, options, resource);
      }
      if (e.getBenchmarks() != null) {
        for (int i = 0; i < e.getBenchmarks().size(); i++) {
          try {
            benchmark(e.getBenchmarks().get(i), tasks.get(i), extended, baseModel, results, options, resource);
          } catch (DataException ex) {
            throw new StageException(ExitCode.MISSING_INPUT, "spec.evaluation.benchmarks[" + i + "] ("
                + e.getBenchmarks().get(i).getName() + "): " + ex.getMessage(), ex);
          }
        }
      }
    }
    results.setCompleted(true);
    publish(results, options, resource);
    log.printf(Locale.ROOT, "wrote %s%n", workspace.resolve(Workspace.EVAL_RESULTS));
    return results;
  }

  private static void passkey(PasskeyEvaluation p, int target, LanguageModel extended, LanguageModel base,
      EvaluationResults results, Options options, ContextExtension resource) throws IOException {
    PrintWriter log = options.log();
    for (int length : p.getLengths()) {
      long start = System.nanoTime();
      int passed = 0;
      int basePassed = 0;
      long promptTokens = 0;
      long lastLine = start;
      for (int trial = 0; trial < p.getTrials(); trial++) {
        Passkey.Prompt prompt = Passkey.trial(p.getSeed(),
            Passkey.promptLength(length, extended.config().maxPositionEmbeddings()), trial);
        int[] ids = extended.tokenizer().encode(prompt.text());
        promptTokens += ids.length;
        if (retrieves(extended, ids, prompt.key())) {
          passed++;
        }
        if (base != null && retrieves(base, base.tokenizer().encode(prompt.text()), prompt.key())) {
          basePassed++;
        }
        long now = System.nanoTime();
        if (trial + 1 < p.getTrials() && now - lastLine > PROGRESS_NANOS) {
          lastLine = now;
          log.printf(Locale.ROOT, "passkey %d: %d of %d trials, %d passed%s%n", length, trial + 1, p.getTrials(), passed,
              base == null ? "" : " (base model " + basePassed + ")");
          log.flush();
        }
      }
      double accuracy = (double) passed / p.getTrials();
      Double baseAccuracy = base == null ? null : (double) basePassed / p.getTrials();
      results.getPasskey().add(new PasskeyResult(length, p.getTrials(), accuracy, baseAccuracy));
      if (length == target) {
        results.setPasskeyAccuracyAtTarget(accuracy);
      }
      log.printf(Locale.ROOT, "passkey %d: %d/%d = %.1f%%%s (prompts of %.0f tokens, %.1f s)%n", length, passed,
          p.getTrials(), 100 * accuracy, base == null ? "" : String.format(Locale.ROOT, ", base model %.1f%%",
              100 * baseAccuracy), (double) promptTokens / p.getTrials(), (System.nanoTime() - start) / 1e9);
      publish(results, options, resource);
    }
  }

  private static boolean retrieves(LanguageModel model, int[] ids, int key) {
    int[] answer = model.greedy(ids, Passkey.MAX_NEW_TOKENS);
    return Passkey.passes(model.tokenizer().decode(answer, true), key);
  }

  private static void perplexity(PerplexityEvaluation p, List<String> texts, LanguageModel extended,
      LanguageModel base, EvaluationResults results, Options options, ContextExtension resource)
      throws IOException, StageException {
    int longest = p.getLengths().stream().mapToInt(Integer::intValue).max().orElseThrow();
    // by default a document must fill the longest window, so every length scores the same documents
    int minTokens = p.getData().getMinTokens() != null ? p.getData().getMinTokens() : longest - 1;
    List<int[]> documents = documents(extended, texts, minTokens, p.getMaxDocuments());
    List<int[]> baseDocuments = base == null ? null : documents(base, texts, minTokens, p.getMaxDocuments());
    if (documents.isEmpty()) {
      throw new StageException(ExitCode.MISSING_INPUT, "spec.evaluation.perplexity.data: none of the " + texts.size()
          + " documents has at least " + minTokens + " tokens (set data.minTokens, or give longer documents)");
    }
    boolean truncate = p.getMode() == PerplexityEvaluation.Mode.TRUNCATE;
    PrintWriter log = options.log();
    for (int length : p.getLengths()) {
      long start = System.nanoTime();
      Perplexity.Result r = Perplexity.measure(extended, documents, length, p.getStride(), truncate, w -> { });
      Double basePerplexity = base == null ? null
          : Perplexity.measure(base, baseDocuments, length, p.getStride(), truncate, w -> { }).perplexity();
      results.getPerplexity().add(new PerplexityResult(length, documents.size(), r.perplexity(), basePerplexity));
      log.printf(Locale.ROOT, "perplexity %d: %.3f%s over %d tokens of %d documents (%.1f s)%n", length,
          r.perplexity(), base == null ? "" : String.format(Locale.ROOT, ", base model %.3f", basePerplexity),
          r.tokens(), documents.size(), (System.nanoTime() - start) / 1e9);
      publish(results, options, resource);
    }
  }

  private static void benchmark(BenchmarkTask t, List<MultipleChoice.Question> questions, LanguageModel extended,
      LanguageModel base, EvaluationResults results, Options options, ContextExtension resource) throws IOException {
    long start = System.nanoTime();
    MultipleChoice.Outcome o = MultipleChoice.evaluate(extended, questions);
    MultipleChoice.Outcome b = base == null ? null : MultipleChoice.evaluate(base, questions);
    BenchmarkResult r = new BenchmarkResult();
    r.setName(t.getName());
    r.setShots(t.getShots());
    r.setExamples(questions.size());
    r.setAccuracy(o.accuracy());
    r.setAccuracyNorm(o.accuracyNorm());
    if (b != null) {
      r.setBaseAccuracy(b.accuracy());
      r.setBaseAccuracyNorm(b.accuracyNorm());
    }
    results.getBenchmarks().add(r);
    options.log().printf(Locale.ROOT, "%s (%d-shot, %d examples): acc %.1f%%%s%s (%.1f s)%n", t.getName(),
        t.getShots(), questions.size(), 100 * o.accuracy(),
        o.accuracyNorm() == null ? "" : String.format(Locale.ROOT, ", acc_norm %.1f%%", 100 * o.accuracyNorm()),
        b == null ? "" : String.format(Locale.ROOT, ", base model acc %.1f%%", 100 * b.accuracy()),
        (System.nanoTime() - start) / 1e9);
    publish(results, options, resource);
  }

  /** Documents with at least minTokens tokens (encoded without special tokens, as the official script), the first max. */
  private static List<int[]> documents(LanguageModel model, List<String> texts, int minTokens, int max) {
    List<int[]> out = new ArrayList<>();
    for (String text : texts) {
      int[] ids = model.tokenizer().encode(text, false);
      if (ids.length >= minTokens) {
        out.add(ids);
        if (out.size() == max) {
          break;
        }
      }
    }
    return out;
  }

  private static List<String> texts(Path source, DataSource data, String field) throws StageException, IOException {
    try {
      List<String> texts = new ArrayList<>();
      switch (data.getFormat()) {
        case JSONL -> {
          for (TextRecords.Record r : TextRecords.jsonl(source)) {
            texts.add(r.text(data.getTextField(), field + ".textField"));
          }
        }
        case TEXT -> TextRecords.texts(source).forEach(r -> texts.add(r.value().get("text").asText()));
        case TOKENS -> throw new StageException(ExitCode.INVALID_CONFIGURATION, field + ".format: evaluation reads "
            + "text (jsonl or text), which each model tokenizes with its own tokenizer; tokens are for training");
      }
      if (texts.isEmpty()) {
        throw new DataException(source + ": no documents");
      }
      return texts;
    } catch (DataException ex) {
      throw new StageException(ExitCode.MISSING_INPUT, field + ": " + ex.getMessage(), ex);
    }
  }

  private static LanguageModel load(Path dir, Options options, ai.djl.Device device)
      throws StageException, IOException {
    try {
      return LanguageModel.load(dir, options.compute(), options.block(), device);
    } catch (CheckpointException | DataException ex) {
      throw new StageException(ExitCode.MISSING_INPUT, ex.getMessage(), ex);
    }
  }

  private static ModelConfig readConfig(Path dir, String hint) throws StageException, IOException {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new StageException(ExitCode.MISSING_INPUT, file + ": no such file (" + hint + ")");
    }
    try {
      return HfConfigs.read(file);
    } catch (ConfigException ex) {
      throw new StageException(ExitCode.MISSING_INPUT, ex.getMessage(), ex);
    }
  }

  private static EvaluationResults publish(EvaluationResults results, Options options, ContextExtension resource)
      throws IOException {
    results.setUpdatedAt(Instant.now().toString());
    EvalReport.write(options.workspace().resolve(Workspace.EVAL_RESULTS), results, resource.getMetadata().getName(),
        marks(resource, options.workspace()), options.workspace().resolve(Workspace.LOGS).resolve("train.jsonl"));
    options.listener().accept(results);
    return results;
  }

  /** The lengths the plots mark: the spec's original window (else the base model's config) and its target. */
  private static EvalReport.Marks marks(ContextExtension resource, Path workspace) {
    ContextExtensionSpec spec = resource.getSpec();
    Integer original = spec.getModel() == null ? null : spec.getModel().getOriginalContextLength();
    if (original == null) {
      try {
        original = HfConfigs.read(workspace.resolve(Workspace.BASE_MODEL).resolve("config.json"))
            .originalContextLength();
      } catch (IOException | ConfigException e) {
        original = null; // the plots go without that mark
      }
    }
    return new EvalReport.Marks(original, spec.getTargetContextLength());
  }

  private static StageException invalid(List<Violation> violations) {
    return new StageException(ExitCode.INVALID_CONFIGURATION, "the spec breaks " + (violations.size() == 1 ? "a rule"
        : violations.size() + " rules") + ":\n  " + violations.stream().map(Violation::toString)
            .collect(Collectors.joining("\n  ")));
  }
}
