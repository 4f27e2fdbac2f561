package io.pose.trainer.stage;

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
import io.pose.trainer.dist.World;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.progress.ProgressListener;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.MemoryPlan;
import io.pose.trainer.train.TrainingPlan;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Train stage: PoSE fine-tuning of the fetched base model in the workspace, from the ContextExtension's spec.
 * Reads {@code base-model/} and {@code data/training}, tokenizes text data once into {@code data/training.tokens},
 * writes checkpoints to {@code checkpoints/} (resuming from the newest one when a previous pod was stopped, at any
 * number of ranks and ZeRO stage) and the extended model to {@code extended-model/}. Failures carry the contract's
 * exit code: invalid configuration (2: the spec, a plan that does not fit the GPUs), missing or unreadable input or
 * absent GPUs (3); anything else (a failed or hung peer included) is a runtime failure a restart may cure (1).
 *
 * <p>One process per node, one rank per GPU (threads), or one CPU rank per node ({@link World}); ranks meet over
 * NCCL (GPUs) or TCP (CPU nodes) and share each step as data-parallel ranks under spec.training.zeroStage
 * ({@link ZeroModel}). spec.training.precision sets the precision of the matrix products (autocast semantics, fp32
 * master weights; fp16 with dynamic loss scaling). Before any step, the memory plan of a rank is printed, and a
 * plan that does not fit the GPUs stops the run.
 */
public final class TrainStage {

  /** AdamW's betas and epsilon: the Hugging Face Trainer's defaults, which the PoSE recipe uses. */
  static final double BETA1 = 0.9;
  static final double BETA2 = 0.999;
  static final double EPS = 1e-8;
  /** How long the other nodes wait for node 0 to tokenize the corpus (seconds; default 2 hours). */
  public static final String DATA_TIMEOUT = "POSE_DATA_TIMEOUT";

  /**
   * @param workspace the workspace root (TrainerContract.WORKSPACE_DIR in a pod)
   * @param stopAfterSteps stop (after checkpointing) once this step is reached, or null to train to the end
   * @param log where the stage says what it does
   * @param listeners receive every step (called by global rank 0 only)
   * @param workspaceUri the workspace as a URI ({@code pvc://claim}) for the model's reported location, or null to
   *     report a file URI
   * @param env the process environment (the rendezvous variables, timeouts)
   */
  public record Options(Path workspace, Integer stopAfterSteps, PrintWriter log, List<ProgressListener> listeners,
      String workspaceUri, Map<String, String> env) {

    public Options(Path workspace, Integer stopAfterSteps, PrintWriter log, List<ProgressListener> listeners,
        String workspaceUri) {
      this(workspace, stopAfterSteps, log, listeners, workspaceUri, System.getenv());
    }

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

    World world;
    try {
      world = World.fromEnvironment(options.env(), spec.getResources().getNodes(), spec.getResources().getGpusPerNode());
    } catch (World.InvalidWorldException e) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
    }
    TrainingSettings t = spec.getTraining();
    PoseSettings pose = spec.getPose();
    PositionSampler sampler = sampler(spec);
    if (t.getGlobalBatchSize() % (t.getMicroBatchSize() * world.size()) != 0) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, "spec.training.globalBatchSize: "
          + t.getGlobalBatchSize() + " is not a multiple of microBatchSize x ranks = " + t.getMicroBatchSize() + " x "
          + world.size() + " (" + world.nodes() + " nodes x " + world.ranksPerNode() + " ranks)");
    }
    TrainingPlan plan = new TrainingPlan(t.getSteps(), t.getGlobalBatchSize(), t.getMicroBatchSize(), world.size(),
        new LearningRateSchedule(t.getLearningRate(), t.getWarmupSteps(), t.getSteps(), t.getLrSchedule()), BETA1,
        BETA2, EPS, t.getWeightDecay(), t.getMaxGradNorm(), t.getCheckpointEverySteps(), t.getKeepCheckpoints(),
        padTokenId(base), t.getActivationCheckpointing());
    String identity = runIdentity(spec);
    PrintWriter log = options.log();
    boolean first = world.nodeRank() == 0;
    Devices.check(world);
    if (first) {
      describe(log, spec, base, extended, plan, world);
    }
    // tokens per sample: the training window, or the target length for full-length fine-tuning
    MemoryPlan memory = MemoryPlan.of(new MemoryPlan.Inputs(extended, world.size(), t.getZeroStage(),
        computeType(t.getPrecision()), t.getMicroBatchSize(), sampler.trainingWindow(), t.getActivationCheckpointing(),
        world.gpus()));
    long deviceBytes = world.gpus() ? Devices.memory() : 0;
    if (first) {
      log.print(memory.table(deviceBytes));
    }
    if (deviceBytes > 0 && memory.total() > deviceBytes) {
      List<String> fits = memory.alternatives(deviceBytes, world.ranksPerNode());
      throw new StageException(ExitCode.INVALID_CONFIGURATION, "the memory plan needs " + MemoryPlan.gib(memory.total())
          + " per GPU, the GPUs have " + MemoryPlan.gib(deviceBytes) + " (spec.training.zeroStage "
          + t.getZeroStage() + ", microBatchSize " + t.getMicroBatchSize() + ", activationCheckpointing "
          + t.getActivationCheckpointing() + ", " + world.size() + " ranks): "
          + (fits.isEmpty() ? "nothing tried fits: use GPUs with more memory or " + shorterSamples(pose)
              : "would fit: " + String.join("; or ", fits)));
    }
    if (first) {
      io.pose.trainer.fetch.FetchManifest.read(baseDir).ifPresent(m -> log.printf(Locale.ROOT,
          "base model: %s at revision %s (fetched %s)%n", m.source(), m.revision(), m.fetchedAt()));
    }

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
    saved.ifPresent(s -> log.printf(Locale.ROOT, "resuming from %s (step %d, %d samples read; written by %d ranks at "
            + "ZeRO %d%s)%n", s.directory(), s.step(), s.samplesConsumed(), s.worldSize(), s.zeroStage(),
        s.worldSize() != world.size() || s.zeroStage() != t.getZeroStage()
            ? ", re-sharded for " + world.size() + " ranks at ZeRO " + t.getZeroStage() : ""));

    Path tokenFile;
    try {
      tokenFile = first ? tokens(workspace, spec.getTraining().getData(), baseDir, base, log)
          : awaitTokens(workspace, spec.getTraining().getData(), baseDir, log, options.env());
    } catch (DataException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    try (TokenFile tokens = TokenFile.open(tokenFile)) {
      SampleStream stream = new SampleStream(tokens, sampler, t.getSeed(), pose.getSeed(), spec.getTraining().getData().getMinTokens());
      if (first) {
        log.printf(Locale.ROOT, "data: %d of %d documents have at least %d tokens (%s)%n", stream.eligibleDocuments(),
            tokens.size(), spec.getTraining().getData().getMinTokens(), tokens.describe());
      }
    } catch (DataException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }

    TrainRanks.Job job = new TrainRanks.Job(world, extended, base, computeType(t.getPrecision()), t.getZeroStage(),
        plan, sampler, t.getSeed(), pose.getSeed(), spec.getTraining().getData().getMinTokens(), tokenFile, baseDir,
        saved.orElse(null), checkpoints, identity, extension, extendedDir,
        options.stopAfterSteps() == null ? plan.steps() : Math.min(plan.steps(), options.stopAfterSteps()),
        options.listeners(), log);
    int fromStep = saved.map(CheckpointStore.Saved::step).orElse(0);
    options.listeners().forEach(l -> l.starting(fromStep));
    TrainRanks.Outcome outcome = TrainRanks.run(job);
    Integer resumedFrom = saved.map(CheckpointStore.Saved::step).orElse(null);
    if (outcome.step() < plan.steps()) {
      log.printf(Locale.ROOT, "stopped after step %d of %d (checkpoint %s)%n", outcome.step(), plan.steps(),
          outcome.lastCheckpointStep());
      return new Result(outcome.step(), plan.steps(), resumedFrom, outcome.lastLoss(), null);
    }
    if (first) {
      log.printf(Locale.ROOT, "wrote the extended model (%d tokens, %s RoPE x%s) to %s%n", spec.getTargetContextLength(),
          extension.scaling().wireName(), trimmed(extension.resolvedFactor()), extendedDir);
      options.listeners().forEach(l -> l.modelWritten(options.modelUri(), outcome.step()));
    }
    return new Result(outcome.step(), plan.steps(), resumedFrom, outcome.lastLoss(), extendedDir);
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
  private static Path tokens(Path workspace, DataSource data, Path baseDir, ModelConfig base, PrintWriter log)
      throws IOException, StageException {
    Path source = workspace.resolve(Workspace.TRAINING_DATA);
    if (data.getFormat() == DataSource.Format.TOKENS) {
      return singleFile(source);
    }
    Path tokenFile = workspace.resolve(Workspace.TRAINING_TOKENS);
    // what the token file was made from: a token file of another tokenizer, corpus, format or field is made again
    Path made = madeFrom(tokenFile);
    String from = tokenSource(source, data, baseDir);
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
    return tokenFile;
  }

  private static Path madeFrom(Path tokenFile) {
    return tokenFile.resolveSibling(tokenFile.getFileName() + ".source");
  }

  private static String tokenSource(Path source, DataSource data, Path baseDir) throws IOException {
    return String.join("\n", "tokenizer " + io.pose.trainer.fetch.Fetcher.sha256(baseDir.resolve("tokenizer.json")),
        "data " + corpusIdentity(source), "format " + data.getFormat().name(), "field " + data.getTextField());
  }

  /**
   * On nodes other than node 0: waits until node 0 has tokenized the corpus (the token file and the record of what it
   * was made from, which is written last), saying so every minute, at most {@value #DATA_TIMEOUT} seconds.
   */
  private static Path awaitTokens(Path workspace, DataSource data, Path baseDir, PrintWriter log,
      Map<String, String> env) throws IOException, StageException {
    Path source = workspace.resolve(Workspace.TRAINING_DATA);
    if (data.getFormat() == DataSource.Format.TOKENS) {
      return singleFile(source);
    }
    Path tokenFile = workspace.resolve(Workspace.TRAINING_TOKENS);
    String from = tokenSource(source, data, baseDir);
    double limit;
    try {
      limit = Double.parseDouble(env.getOrDefault(DATA_TIMEOUT, "7200"));
    } catch (NumberFormatException e) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, DATA_TIMEOUT + " is \"" + env.get(DATA_TIMEOUT)
          + "\", not a number of seconds");
    }
    long start = System.nanoTime();
    long said = start;
    while (!(Files.isRegularFile(tokenFile) && Files.isRegularFile(madeFrom(tokenFile))
        && Files.readString(madeFrom(tokenFile)).equals(from))) {
      long now = System.nanoTime();
      if ((now - start) / 1e9 > limit) {
        throw new StageException(ExitCode.RUNTIME_FAILURE, "node 0 did not tokenize " + source + " into " + tokenFile
            + " within " + (long) limit + " s (" + DATA_TIMEOUT + ")");
      }
      if (now - said > 60e9) {
        log.printf(Locale.ROOT, "waiting for node 0 to tokenize %s (%.0f s)%n", source, (now - start) / 1e9);
        said = now;
      }
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the token file", e);
      }
    }
    return tokenFile;
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

  /**
   * The spec's position sampler (defaults applied); its trainingWindow() is the tokens of a sample: the training
   * window, or the target length for full-length fine-tuning.
   */
  public static PositionSampler sampler(ContextExtensionSpec spec) {
    PoseSettings pose = spec.getPose();
    return Samplers.of(Samplers.Method.valueOf(pose.getMethod().name()), pose.getTrainingWindow(),
        spec.getTargetContextLength(), pose.getChunks() == null ? 1 : pose.getChunks());
  }

  /** What makes a sample shorter: the training window, or for full-length fine-tuning the target length. */
  public static String shorterSamples(PoseSettings pose) {
    return pose.getMethod() == PoseSettings.Method.FULL
        ? "a shorter spec.targetContextLength (full-length samples have as many tokens)"
        : "a shorter spec.pose.trainingWindow";
  }

  /** The compute type of spec.training.precision. */
  public static ComputeType computeType(TrainingSettings.Precision precision) {
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
      TrainingPlan plan, World world) {
    long parameters = DecoderWeights.expectedShapes(base).values().stream()
        .mapToLong(shape -> java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)).sum();
    PoseSettings p = s.getPose();
    log.printf(Locale.ROOT, "model: %s, %d layers, %s parameters, original context %d%n", base.modelType(),
        base.numHiddenLayers(), human(parameters), s.getModel().getOriginalContextLength());
    log.printf(Locale.ROOT, "extension: %d -> %d tokens, %s RoPE (%s)%n", s.getModel().getOriginalContextLength(),
        s.getTargetContextLength(), extended.rope().type().wireName(), s.getModel().getSource());
    log.printf(Locale.ROOT, "sampling: %s, %s%s, seed %d%n", p.getMethod().wireName(),
        p.getMethod() == PoseSettings.Method.FULL ? "samples of up to " + s.getTargetContextLength() + " tokens"
            : "window " + p.getTrainingWindow(),
        p.getChunks() == null ? "" : ", " + p.getChunks() + " chunks",
        p.getSeed());
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
    log.printf(Locale.ROOT, "ranks: %d = %d node%s x %d %s, ZeRO stage %d (%s)%n", world.size(), world.nodes(),
        world.nodes() == 1 ? "" : "s", world.ranksPerNode(), world.gpus() ? "GPUs" : "CPU rank",
        s.getTraining().getZeroStage(), world.size() == 1 ? "one rank" : world.gpus() ? "NCCL"
            : "TCP between the nodes");
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
