package io.pose.trainer.stage;

import io.pose.api.SpecIO;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.PublishReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.PublishSettings;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.eval.EvalReport;
import io.pose.trainer.io.AtomicDirectory;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.publish.ModelCard;
import io.pose.trainer.publish.PublishTarget;
import io.pose.trainer.publish.PublishTargets;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.InvalidUriException;
import io.pose.trainer.storage.StorageUri;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Publish stage: the extended model in the workspace, with a model card (README.md), the configuration it was
 * trained with ({@value #CONFIG_FILE}) and the evaluation results (eval/), goes to spec.publish.target. A quality
 * gate comes first: with spec.publish.requirePasskeyAccuracy set, the passkey accuracy measured at the target
 * length must reach it, else nothing is published and the stage exits with code 5. Each target makes the publish
 * all or nothing (see the {@link PublishTarget} implementations).
 */
public final class PublishStage {
  private PublishStage() {}

  /** The training configuration published next to the model: the ContextExtension as written. */
  public static final String CONFIG_FILE = "pose-config.yaml";
  /** The evaluation results, under this directory of the published tree. */
  public static final String EVAL_DIR = "eval";

  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /**
   * @param secretsDir where credentials Secrets are mounted
   * @param targets creates the target for the URI
   */
  public record Options(Path workspace, Path secretsDir, PrintWriter log, PublishTargets.Factory targets) {}

  public static PublishReport run(ContextExtension resource, Options options) throws StageException, IOException {
    List<Violation> violations = SpecValidator.validate(resource);
    if (!violations.isEmpty()) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, "the spec breaks " + (violations.size() == 1 ? "a rule"
          : violations.size() + " rules") + ":\n  " + violations.stream().map(Violation::toString)
              .collect(Collectors.joining("\n  ")));
    }
    PublishSettings publish = resource.getSpec().getPublish();
    if (publish == null) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, "spec.publish: is required to publish (the target URI)");
    }
    StorageUri target;
    try {
      target = StorageUri.parse(publish.getTarget(), "spec.publish.target");
    } catch (InvalidUriException e) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
    }
    Path workspace = options.workspace();
    Path model = workspace.resolve(Workspace.EXTENDED_MODEL);
    ModelConfig extended = modelConfig(model);
    Path baseDir = workspace.resolve(Workspace.BASE_MODEL);
    int original = extended.originalContextLength();
    if (Files.isRegularFile(baseDir.resolve("config.json"))) {
      try {
        original = HfConfigs.read(baseDir.resolve("config.json")).originalContextLength();
      } catch (ConfigException e) {
        throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
      }
    }
    ContextExtensionSpec spec = SpecDefaults.apply(resource.getSpec(), original);
    Path evalDir = workspace.resolve(Workspace.EVAL_RESULTS);
    EvaluationResults results = readResults(evalDir);
    gate(spec, results, evalDir);

    PrintWriter log = options.log();
    Credentials credentials;
    try {
      credentials = Credentials.load(options.secretsDir(), publish.getCredentialsSecret(), "spec.publish.credentialsSecret");
    } catch (CredentialsException e) {
      throw new StageException(ExitCode.CREDENTIALS_REJECTED, e.getMessage(), e);
    }
    Path tree = workspace.resolve(".publish-tree");
    String name = resource.getMetadata().getName();
    AtomicDirectory.write(tree, dir -> assemble(dir, model, baseDir, evalDir, resource, spec, results != null));
    try {
      log.printf(Locale.ROOT, "publishing %s (%d files, %s) to %s%n", model, count(tree), human(size(tree)),
          target);
      PublishTarget.Published published;
      try {
        // spec.publish.private, defaulted (a repository is private unless the spec says otherwise)
        PublishTarget t = options.targets().create(target, credentials,
            Boolean.TRUE.equals(spec.getPublish().getPrivateRepository()));
        published = t.publish(tree, String.format(Locale.ROOT, "%s: PoSE context extension %d -> %d tokens", name,
            spec.getModel().getOriginalContextLength(), spec.getTargetContextLength()));
      } catch (CredentialsException e) {
        throw new StageException(ExitCode.CREDENTIALS_REJECTED, e.getMessage(), e);
      } catch (IllegalArgumentException | UnsupportedOperationException e) {
        throw new StageException(ExitCode.INVALID_CONFIGURATION, "spec.publish.target: " + e.getMessage(), e);
      }
      log.printf(Locale.ROOT, "published %s (revision %s)%n", published.uri(), published.revision());
      PublishReport report = new PublishReport();
      report.setPublishedUri(published.uri());
      report.setRevision(published.revision());
      report.setUpdatedAt(Instant.now().toString());
      return report;
    } finally {
      AtomicDirectory.delete(tree);
    }
  }

  /** The quality gate: passkey accuracy at the target length against spec.publish.requirePasskeyAccuracy. */
  static void gate(ContextExtensionSpec spec, EvaluationResults results, Path evalDir) throws StageException {
    Double required = spec.getPublish().getRequirePasskeyAccuracy();
    if (required == null) {
      return;
    }
    int target = spec.getTargetContextLength();
    if (results == null) {
      throw new StageException(ExitCode.MISSING_INPUT, "spec.publish.requirePasskeyAccuracy is " + required + " but "
          + evalDir.resolve(EvalReport.RESULTS_JSON) + " does not exist (the Evaluate stage writes it)");
    }
    Double measured = results.getPasskeyAccuracyAtTarget() != null ? results.getPasskeyAccuracyAtTarget()
        : results.passkeyAccuracyAt(target).orElse(null);
    if (measured == null) {
      throw new StageException(ExitCode.QUALITY_GATE_FAILED, String.format(Locale.ROOT, "quality gate: no passkey "
          + "accuracy was measured at the target length %d (spec.evaluation.passkey.lengths must include it); "
          + "spec.publish.requirePasskeyAccuracy is %s; nothing was published", target, required));
    }
    if (measured < required) {
      throw new StageException(ExitCode.QUALITY_GATE_FAILED, String.format(Locale.ROOT, "quality gate: passkey "
          + "accuracy at %d tokens is %s, below spec.publish.requirePasskeyAccuracy %s; nothing was published", target,
          measured, required));
    }
  }

  private static EvaluationResults readResults(Path evalDir) throws StageException, IOException {
    Path file = evalDir.resolve(EvalReport.RESULTS_JSON);
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try {
      return JSON.readValue(file.toFile(), EvaluationResults.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new StageException(ExitCode.MISSING_INPUT, file + ": not an evaluation results document: "
          + e.getOriginalMessage(), e);
    }
  }

  private static ModelConfig modelConfig(Path model) throws StageException, IOException {
    Path config = model.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new StageException(ExitCode.MISSING_INPUT, config + ": no such file (the Train stage writes the extended "
          + "model there)");
    }
    ModelConfig c;
    try {
      c = HfConfigs.read(config);
    } catch (ConfigException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    try (Checkpoint checkpoint = Checkpoint.open(model)) {
      if (checkpoint.tensors().isEmpty()) {
        throw new StageException(ExitCode.MISSING_INPUT, model + ": the checkpoint holds no tensors");
      }
    } catch (CheckpointException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    return c;
  }

  /** The published tree: the model's files (hard links where possible), the card, the configuration, eval/. */
  private static void assemble(Path dir, Path model, Path baseDir, Path evalDir, ContextExtension resource,
      ContextExtensionSpec spec, boolean evaluated) throws IOException {
    try (Stream<Path> files = Files.walk(model)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Path relative = model.relativize(f);
        String top = relative.getName(0).toString();
        if (top.equals("README.md") || top.equals(CONFIG_FILE) || top.equals(EVAL_DIR) || top.startsWith(".")) {
          continue; // written below from the workspace; hidden files are bookkeeping
        }
        link(f, dir.resolve(relative.toString()));
      }
    }
    List<String> plots = new ArrayList<>();
    String tables = null;
    if (evaluated) {
      Path out = Files.createDirectories(dir.resolve(EVAL_DIR));
      try (Stream<Path> files = Files.list(evalDir)) {
        for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
          link(f, out.resolve(f.getFileName().toString()));
          if (f.getFileName().toString().endsWith(".png")) {
            plots.add(EVAL_DIR + "/" + f.getFileName());
          }
        }
      }
      Path md = evalDir.resolve(EvalReport.RESULTS_MARKDOWN);
      tables = Files.isRegularFile(md) ? Files.readString(md, StandardCharsets.UTF_8) : null;
    }
    ContextExtension written = new ContextExtension();
    written.setApiVersion(resource.getApiVersion());
    written.setKind(resource.getKind());
    written.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
        .withName(resource.getMetadata().getName()).build());
    written.setSpec(resource.getSpec());
    Files.writeString(dir.resolve(CONFIG_FILE), SpecIO.toYaml(written), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("README.md"), ModelCard.render(resource.getMetadata().getName(), spec,
        ModelCard.readBaseCard(baseDir), io.pose.trainer.fetch.FetchManifest.read(baseDir)
            .map(io.pose.trainer.fetch.FetchManifest::revision).orElse(null), tables, plots), StandardCharsets.UTF_8);
  }

  private static void link(Path source, Path target) throws IOException {
    Files.createDirectories(target.getParent());
    try {
      Files.createLink(target, source);
    } catch (UnsupportedOperationException | IOException e) {
      Files.copy(source, target);
    }
  }

  private static long count(Path tree) throws IOException {
    try (Stream<Path> s = Files.walk(tree)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  private static long size(Path tree) throws IOException {
    long total = 0;
    try (Stream<Path> s = Files.walk(tree)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        total += Files.size(p);
      }
    }
    return total;
  }

  private static String human(long bytes) {
    return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
        : bytes >= 1L << 20 ? String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20))
        : String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
  }
}
