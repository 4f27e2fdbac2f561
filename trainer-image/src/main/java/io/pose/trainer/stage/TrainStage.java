package io.pose.trainer.stage;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.RopeScaling;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.ConfigExtension;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.PositionSampler;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.CorpusTokenizer;
import io.pose.trainer.data.DataException;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.data.TextTokenizer;
import io.pose.trainer.data.TokenFile;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.CheckpointWriter;
import io.pose.trainer.io.ModelExport;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.progress.ProgressListener;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingDivergedException;
import io.pose.trainer.train.TrainingPlan;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Train stage: PoSE fine-tuning of the fetched base model in the workspace, from the ContextExtension's spec.
 * Reads {@code base-model/} and {@code data/training}, tokenizes text data once into {@code data/training.tokens},
 * writes checkpoints to {@code checkpoints/} (resuming from the newest one when a previous pod was stopped) and
 * the extended model to {@code extended-model/}. Failures carry the contract's exit code: invalid configuration
 * (2), missing or unreadable input (3); anything else is a runtime failure a restart may cure.
 *
 * <p>This process trains on one device: the global batch is reached by accumulating micro-batches, which gives
 * the same gradients as data-parallel ranks sharing the batch. spec.training.precision sets the precision of the
 * matrix products (autocast semantics, fp32 master weights; fp16 with dynamic loss scaling).
 */
public final class TrainStage {

  /** AdamW's betas and epsilon: the Hugging Face Trainer's defaults, which the PoSE recipe uses. */
  static final double BETA1 = 0.9;
  static final double BETA2 = 0.999;
  static final double EPS = 1e-8;

  /**
   * @param workspace the workspace root (TrainerContract.WORKSPACE_DIR in a pod)
   * @param stopAfterSteps stop (after checkpointing) once this step is reached, or null to train to the end
   * @param log where the stage says what it does
   * @param listeners receive every step
   * @param workspaceUri the workspace as a URI ({@code pvc://claim}) for the model's reported location, or null to
   *     report a file URI
   */
  public record Options(Path workspace, Integer stopAfterSteps, PrintWriter log, List<ProgressListener> listeners,
      String workspaceUri) {

    String modelUri() {
      return workspaceUri != null ? workspaceUri.replaceAll("/+$", "") + "/" + Workspace.EXTENDED_MODEL
          : workspace.resolve(Workspace.EXTENDED_MODEL).toAbsolutePath().toUri().toString();
    }
  }

  /**
   * What the stage did.
   *
   * @param stepsDone the step the run stands at
   * @param totalSteps spec.training.steps
   * @param resumedFromStep the checkpoint step it resumed from, or null
   * @param lastLoss the loss of the last step run in this process, or null
   * @param extendedModel the exported model, or null when the run stopped early
   */
  public record Result(int stepsDone, int totalSteps, Integer resumedFromStep, Double lastLoss, Path extendedModel) {}

  private TrainStage() {}

  public static Result run(ContextExtension resource, Options options) throws StageException, IOException {
    List<Violation> violations = SpecValidator.validate(resource);
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    ContextExtensionSpec written = resource.getSpec();
    if (written.getTraining() == null || written.getTraining().getData() == null) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, "spec.training.data: is required to train");
    }
    Path workspace = options.workspace();
    Path baseDir = workspace.resolve(Workspace.BASE_MODEL);
    Path configFile = baseDir.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new StageException(ExitCode.MISSING_INPUT,
          configFile + ": no such file (the Fetch stage writes the base model to " + baseDir + ")");
    }
    ObjectNode baseTree;
    ModelConfig base;
    try {
      baseTree = HfConfigs.tree(Files.readString(configFile), configFile.toString());
      base = HfConfigs.parse(baseTree, configFile.toString());
    } catch (ConfigException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    violations = SpecValidator.validateWithModel(written, base.originalContextLength());
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    ContextExtensionSpec spec = SpecDefaults.apply(written, base.originalContextLength());
    ConfigExtension.Plan extension = extensionPlan(written, spec);
    ModelConfig extended;
    try {
      extended = HfConfigs.parse(ConfigExtension.extend(baseTree, extension, configFile.toString()),
          configFile + " (extended)");
    } catch (ConfigException e) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
    }

    TrainingSettings t = spec.getTraining();
    PoseSettings pose = spec.getPose();
    int lc = pose.getTrainingWindow();
    int lt = spec.getTargetContextLength();
    PositionSampler sampler = Samplers.of(Samplers.Method.valueOf(pose.getMethod().name()), lc, lt,
        pose.getChunks() == null ? 1 : pose.getChunks());
    TrainingPlan plan = new TrainingPlan(t.getSteps(), t.getGlobalBatchSize(), t.getMicroBatchSize(), 1,
        new LearningRateSchedule(t.getLearningRate(), t.getWarmupSteps(), t.getSteps(), t.getLrSchedule()), BETA1,
        BETA2, EPS, t.getWeightDecay(), t.getMaxGradNorm(), t.getCheckpointEverySteps(), t.getKeepCheckpoints(),
        padTokenId(base), t.getActivationCheckpointing());
    String identity = runIdentity(spec);
    PrintWriter log = options.log();
    describe(log, spec, base, extended, plan);
    io.pose.trainer.fetch.FetchManifest.read(baseDir).ifPresent(m -> log.printf(Locale.ROOT,
        "base model: %s at revision %s (fetched %s)%n", m.source(), m.revision(), m.fetchedAt()));

    CheckpointStore checkpoints = new CheckpointStore(workspace.resolve(Workspace.CHECKPOINTS));
    Path extendedDir = workspace.resolve(Workspace.EXTENDED_MODEL);
    Optional<CheckpointStore.Saved> saved;
    try {
      saved = checkpoints.latest();
    } catch (CheckpointException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    if (saved.isPresent() && !saved.get().runIdentity().equals(identity)) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, saved.get().directory() + " was written by another run ("
          + saved.get().runIdentity() + "); this spec trains " + identity
          + ": use a fresh workspace, or restore the settings the checkpoints were made with");
    }
    if (saved.isPresent() && saved.get().step() >= plan.steps() && Files.isRegularFile(extendedDir.resolve("config.json"))) {
      log.printf(Locale.ROOT, "training is complete (%s, step %d of %d) and %s exists: nothing to do%n",
          saved.get().directory().getFileName(), saved.get().step(), plan.steps(), extendedDir);
      options.listeners().forEach(l -> l.modelWritten(options.modelUri(), saved.get().step()));
      return new Result(saved.get().step(), plan.steps(), saved.get().step(), null, extendedDir);
    }

    try (NDManager manager = NDManager.newBaseManager();
        TokenFile tokens = openTokens(workspace, spec.getTraining().getData(), baseDir, base, log)) {
      SampleStream stream;
      try {
        stream = new SampleStream(tokens, sampler, t.getSeed(), pose.getSeed(), spec.getTraining().getData().getMinTokens());
      } catch (DataException e) {
        throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
      }
      log.printf(Locale.ROOT, "data: %d of %d documents have at least %d tokens (%s)%n", stream.eligibleDocuments(),
          tokens.size(), spec.getTraining().getData().getMinTokens(), tokens.describe());

      Path weightsFrom = saved.map(CheckpointStore.Saved::directory).orElse(baseDir);
      DecoderWeights weights;
      try (Checkpoint c = Checkpoint.open(weightsFrom)) {
        weights = DecoderWeights.load(base, c, manager);
      } catch (CheckpointException e) {
        throw new StageException(ExitCode.MISSING_INPUT, e.getMessage()
            + (saved.isPresent() ? " (delete this checkpoint directory to resume from the one before it)" : ""), e);
      }
      Trainer trainer = new Trainer(manager, new Decoder(extended, weights, computeType(t.getPrecision())), weights,
          stream, plan, checkpoints, identity);
      Integer resumedFrom = null;
      if (saved.isPresent()) {
        try {
          trainer.resumeFrom(saved.get());
        } catch (CheckpointException e) {
          throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
        }
        resumedFrom = saved.get().step();
        log.printf(Locale.ROOT, "resuming from %s (step %d, %d samples read)%n", saved.get().directory(),
            saved.get().step(), saved.get().samplesConsumed());
      }
      int until = options.stopAfterSteps() == null ? plan.steps() : Math.min(plan.steps(), options.stopAfterSteps());
      Double[] lastLoss = {null};
      try {
        trainer.run(until, r -> {
          lastLoss[0] = r.loss();
          for (ProgressListener l : options.listeners()) {
            l.step(r, plan.steps(), trainer.lastCheckpointStep());
          }
        });
      } catch (TrainingDivergedException e) {
        // deterministic: a restart from the last checkpoint would diverge at the same step again
        throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
      }
      if (trainer.step() < plan.steps()) {
        log.printf(Locale.ROOT, "stopped after step %d of %d (checkpoint %s)%n", trainer.step(), plan.steps(),
            trainer.lastCheckpointStep());
        return new Result(trainer.step(), plan.steps(), resumedFrom, lastLoss[0], null);
      }
      ModelExport.write(baseDir, extension, weights.all(), extendedDir, CheckpointWriter.DEFAULT_MAX_SHARD_BYTES);
      log.printf(Locale.ROOT, "wrote the extended model (%d tokens, %s RoPE x%s) to %s%n", lt,
          extension.scaling().wireName(), trimmed(extension.resolvedFactor()), extendedDir);
      options.listeners().forEach(l -> l.modelWritten(options.modelUri(), trainer.step()));
      return new Result(trainer.step(), plan.steps(), resumedFrom, lastLoss[0], extendedDir);
    } catch (DataException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
  }

  /**
   * The extension the published config will carry. The factor is the one written in the spec, or left to
   * {@link ConfigExtension} (target / original, composed with a base that is already scaled).
   */
  static ConfigExtension.Plan extensionPlan(ContextExtensionSpec written, ContextExtensionSpec resolved) {
    RopeScaling w = written.getRopeScaling() == null ? new RopeScaling() : written.getRopeScaling();
    return new ConfigExtension.Plan(resolved.getModel().getOriginalContextLength(), resolved.getTargetContextLength(),
        ConfigExtension.Scaling.valueOf(resolved.getRopeScaling().getType().name()), w.getFactor(), w.getBetaFast(),
        w.getBetaSlow(), w.getAttentionFactor(), w.getMscale(), w.getMscaleAllDim(), w.getTruncate(), false);
  }

  /**
   * What a checkpoint must have been made with to be resumed: everything that decides which samples and positions
   * step k sees and what the weights are trained towards. Steps and learning rate are not part of it, so a
   * finished run can be continued with more steps.
   */
  static String runIdentity(ContextExtensionSpec s) {
    PoseSettings p = s.getPose();
    TrainingSettings t = s.getTraining();
    DataSource d = t.getData();
    RopeScaling r = s.getRopeScaling();
    return String.format(Locale.ROOT, "model=%s data=%s method=%s window=%d target=%d chunks=%s poseSeed=%d seed=%d "
            + "globalBatch=%d microBatch=%d rope=%s/%s minTokens=%d",
        s.getModel().getSource(), d.getSource(), p.getMethod().wireName(), p.getTrainingWindow(),
        s.getTargetContextLength(), p.getChunks(), p.getSeed(), t.getSeed(), t.getGlobalBatchSize(),
        t.getMicroBatchSize(), r.getType().wireName(), r.getFactor() == null ? "auto" : trimmed(r.getFactor()),
        d.getMinTokens());
  }

  /** Token file of the training data: the fetched file itself, or the text tokenized once with the model's tokenizer. */
  private static TokenFile openTokens(Path workspace, DataSource data, Path baseDir, ModelConfig base, PrintWriter log)
      throws IOException, StageException {
    Path source = workspace.resolve(Workspace.TRAINING_DATA);
    if (data.getFormat() == DataSource.Format.TOKENS) {
      return TokenFile.open(singleFile(source));
    }
    Path tokenFile = workspace.resolve(Workspace.TRAINING_TOKENS);
    // what the token file was made from: a token file of another tokenizer, corpus, format or field is made again
    Path made = tokenFile.resolveSibling(tokenFile.getFileName() + ".source");
    String from = String.join("\n", "tokenizer " + io.pose.trainer.fetch.Fetcher.sha256(baseDir.resolve("tokenizer.json")),
        "data " + corpusIdentity(source), "format " + data.getFormat().name(), "field " + data.getTextField());
    if (Files.exists(tokenFile) && !(Files.isRegularFile(made) && Files.readString(made).equals(from))) {
      log.printf(Locale.ROOT, "%s was made from another tokenizer or corpus: tokenizing again%n", tokenFile);
      Files.delete(tokenFile);
    }
    if (!Files.exists(tokenFile)) {
      Files.deleteIfExists(made);
      long start = System.nanoTime();
      try (TextTokenizer tokenizer = TextTokenizer.of(baseDir)) {
        int documents = CorpusTokenizer.tokenize(source, data.getFormat(), data.getTextField(), tokenizer,
            base.vocabSize(), tokenFile);
        log.printf(Locale.ROOT, "tokenized %d documents of %s into %s in %.1f s%n", documents, source, tokenFile,
            (System.nanoTime() - start) / 1e9);
      }
      Files.writeString(made, from);
    }
    return TokenFile.open(tokenFile);
  }

  /** The corpus's fetched revision (its manifest), else its files' names, sizes and modification times. */
  private static String corpusIdentity(Path source) throws IOException {
    Path dir = Files.isDirectory(source) ? source : source.getParent();
    var manifest = io.pose.trainer.fetch.FetchManifest.read(dir);
    if (manifest.isPresent()) {
      return manifest.get().source() + "@" + manifest.get().revision();
    }
    StringBuilder b = new StringBuilder();
    for (Path f : io.pose.trainer.data.TextRecords.files(source)) {
      b.append(f.getFileName()).append(':').append(Files.size(f)).append(':')
          .append(Files.getLastModifiedTime(f).toMillis()).append(';');
    }
    return b.toString();
  }

  /** A token file, or a directory holding exactly one. */
  private static Path singleFile(Path source) throws IOException, StageException {
    if (!Files.isDirectory(source)) {
      if (!Files.exists(source)) {
        throw new StageException(ExitCode.MISSING_INPUT, source + ": no such file or directory (the Fetch stage "
            + "writes the training data there)");
      }
      return source;
    }
    List<Path> files;
    try (Stream<Path> list = Files.list(source)) {
      files = list.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
    }
    if (files.size() != 1) {
      throw new StageException(ExitCode.MISSING_INPUT, source + ": spec.training.data.format tokens needs exactly one "
          + "token file, found " + files.size() + (files.isEmpty() ? "" : ": " + files.stream()
              .map(f -> f.getFileName().toString()).collect(Collectors.joining(", "))));
    }
    return files.get(0);
  }

  static ComputeType computeType(TrainingSettings.Precision precision) {
    return switch (precision) {
      case BF16 -> ComputeType.BF16;
      case FP16 -> ComputeType.FP16;
      case FP32 -> ComputeType.FP32;
    };
  }

  /** Padding is masked out of the loss, so any id works; the end-of-sequence id keeps the embedding lookups sane. */
  private static int padTokenId(ModelConfig c) {
    return c.eosTokenIds() == null || c.eosTokenIds().isEmpty() ? 0 : c.eosTokenIds().get(0);
  }

  private static void describe(PrintWriter log, ContextExtensionSpec s, ModelConfig base, ModelConfig extended,
      TrainingPlan plan) {
    long parameters = DecoderWeights.expectedShapes(base).values().stream()
        .mapToLong(shape -> java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)).sum();
    PoseSettings p = s.getPose();
    log.printf(Locale.ROOT, "model: %s, %d layers, %s parameters, original context %d%n", base.modelType(),
        base.numHiddenLayers(), human(parameters), s.getModel().getOriginalContextLength());
    log.printf(Locale.ROOT, "extension: %d -> %d tokens, %s RoPE (%s)%n", s.getModel().getOriginalContextLength(),
        s.getTargetContextLength(), extended.rope().type().wireName(), s.getModel().getSource());
    log.printf(Locale.ROOT, "sampling: %s, window %d%s, seed %d%n", p.getMethod().wireName(), p.getTrainingWindow(),
        p.getChunks() == null ? "" : ", " + p.getChunks() + " chunks", p.getSeed());
    log.printf(Locale.ROOT, "training: %d steps, global batch %d = %d micro-batches of %d, lr %s (%s, %d warmup), "
            + "checkpoint every %d, keep %d%n", plan.steps(), plan.globalBatchSize(), plan.accumulationSteps(),
        plan.microBatchSize(), trimmed(s.getTraining().getLearningRate()), s.getTraining().getLrSchedule().wireName(),
        s.getTraining().getWarmupSteps(), plan.checkpointEverySteps(), plan.keepCheckpoints());
    if (s.getTraining().getActivationCheckpointing()) {
      log.printf(Locale.ROOT, "activation checkpointing: each layer is recomputed in the backward pass%n");
    }
    log.printf(Locale.ROOT, "precision: %s products, fp32 master weights%s%n",
        s.getTraining().getPrecision().wireName(),
        s.getTraining().getPrecision() == TrainingSettings.Precision.FP16 ? ", dynamic loss scaling" : "");
    int ranks = s.getResources().getNodes() * s.getResources().getGpusPerNode();
    if (ranks > 1) {
      log.printf(Locale.ROOT, "note: this process trains on one device; the %d ranks' share of each step is "
          + "accumulated here (same gradients)%n", ranks);
    }
  }

  private static String human(long n) {
    return n >= 1_000_000_000 ? String.format(Locale.ROOT, "%.1fB", n / 1e9)
        : n >= 1_000_000 ? String.format(Locale.ROOT, "%.1fM", n / 1e6)
        : n >= 1_000 ? String.format(Locale.ROOT, "%.1fK", n / 1e3) : Long.toString(n);
  }

  private static String trimmed(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
  }

  private static StageException invalid(List<Violation> violations) {
    return new StageException(ExitCode.INVALID_CONFIGURATION, "the spec breaks " + (violations.size() == 1 ? "a rule"
        : violations.size() + " rules") + ":\n  " + violations.stream().map(Violation::toString)
            .collect(Collectors.joining("\n  ")));
  }
}
