package io.pose.trainer.stage;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.FetchReport;
import io.pose.api.v1alpha1.BenchmarkTask;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.trainer.fetch.ChecksumMismatchException;
import io.pose.trainer.fetch.FetchManifest;
import io.pose.trainer.fetch.Fetcher;
import io.pose.trainer.fetch.InvalidModelException;
import io.pose.trainer.fetch.ModelCheck;
import io.pose.trainer.fetch.ModelFiles;
import io.pose.trainer.fetch.Source;
import io.pose.trainer.fetch.SourceNotFoundException;
import io.pose.trainer.fetch.Sources;
import io.pose.trainer.io.AtomicDirectory;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.InvalidUriException;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The Fetch stage: the base model, the training data and the evaluation data into the workspace, verified, so that
 * Train and Evaluate only read local files. Each source is fetched into a cache keyed by source and revision
 * ({@code cache/}: a second run with the same spec downloads nothing), then linked into place ({@code base-model/},
 * {@code data/training}, {@code data/eval/...}), each with the {@link FetchManifest} of what it came from. The model
 * is checked before the stage reports ({@link ModelCheck}), so that a model the pipeline cannot use fails here with
 * exit code 3 instead of burning a training attempt.
 */
public final class FetchStage {
  private FetchStage() {}

  /** The cache inside the workspace. */
  public static final String CACHE = "cache";

  /**
   * @param secretsDir where credentials Secrets are mounted
   * @param parallel downloads at once
   * @param sources creates the source for a URI
   */
  public record Options(Path workspace, Path secretsDir, String workspaceUri, int parallel, PrintWriter log,
      Sources.Factory sources) {

    String uriOf(String relative) {
      return workspaceUri != null ? workspaceUri.replaceAll("/+$", "") + "/" + relative
          : workspace.resolve(relative).toAbsolutePath().toUri().toString();
    }
  }

  public static FetchReport run(ContextExtension resource, Options options) throws StageException, IOException {
    List<Violation> violations = SpecValidator.validate(resource);
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    ContextExtensionSpec spec = resource.getSpec();
    Path workspace = options.workspace();
    Fetcher fetcher = new Fetcher(workspace.resolve(CACHE), options.parallel(), options.log());

    // the model first: it is checked before any data is brought
    Path baseDir = workspace.resolve(Workspace.BASE_MODEL);
    String modelUri = spec.getModel().getSource();
    Fetcher.Result model = fetch(fetcher, options, modelUri, "spec.model.source", spec.getModel().getCredentialsSecret(),
        "spec.model.credentialsSecret", listing -> ModelFiles.select(listing, modelUri));
    if (place(model.directory(), baseDir)) {
      // a token file made with another model's tokenizer would be read instead of the corpus
      Files.deleteIfExists(workspace.resolve(Workspace.TRAINING_TOKENS));
    }
    ModelCheck.Checked checked;
    try {
      checked = ModelCheck.check(baseDir);
    } catch (InvalidModelException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    int original = spec.getModel().getOriginalContextLength() != null ? spec.getModel().getOriginalContextLength()
        : checked.config().originalContextLength();
    violations = SpecValidator.validateWithModel(spec, checked.config().originalContextLength());
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
    options.log().printf(Locale.ROOT, "model: %s, %d layers, vocabulary %d (tokenizer %d), original context %d%n",
        checked.config().architectures().isEmpty() ? checked.config().modelType() : checked.config().architectures().get(0),
        checked.config().numHiddenLayers(), checked.config().vocabSize(), checked.tokenizerVocabulary(), original);

    if (spec.getTraining() != null && spec.getTraining().getData() != null) {
      data(fetcher, options, spec.getTraining().getData(), "spec.training.data",
          workspace.resolve(Workspace.TRAINING_DATA));
    }
    if (spec.getEvaluation() != null) {
      if (spec.getEvaluation().getPerplexity() != null && spec.getEvaluation().getPerplexity().getData() != null) {
        data(fetcher, options, spec.getEvaluation().getPerplexity().getData(), "spec.evaluation.perplexity.data",
            workspace.resolve(Workspace.EVAL_PERPLEXITY_DATA));
      }
      if (spec.getEvaluation().getBenchmarks() != null) {
        for (int i = 0; i < spec.getEvaluation().getBenchmarks().size(); i++) {
          BenchmarkTask t = spec.getEvaluation().getBenchmarks().get(i);
          data(fetcher, options, t.getData(), "spec.evaluation.benchmarks[" + i + "].data",
              workspace.resolve(Workspace.EVAL_BENCHMARK_DATA).resolve(t.getName()));
        }
      }
    }

    FetchReport report = new FetchReport();
    report.setOriginalContextLength(original);
    report.setModelRevision(model.manifest().revision());
    report.setModelUri(options.uriOf(Workspace.BASE_MODEL));
    report.setArchitecture(checked.config().architectures().isEmpty() ? null : checked.config().architectures().get(0));
    report.setUpdatedAt(Instant.now().toString());
    return report;
  }

  private static void data(Fetcher fetcher, Options options, DataSource data, String field, Path target)
      throws StageException, IOException {
    DataSource.Format format = data.getFormat() == null ? DataSource.Format.JSONL : data.getFormat();
    Fetcher.Result r = fetch(fetcher, options, data.getSource(), field + ".source", data.getCredentialsSecret(),
        field + ".credentialsSecret", listing -> dataFiles(listing, format, data.getSource(), field));
    if (place(r.directory(), target) && target.equals(options.workspace().resolve(Workspace.TRAINING_DATA))) {
      // the corpus changed: its token file, made from the old one, would be read instead
      Files.deleteIfExists(options.workspace().resolve(Workspace.TRAINING_TOKENS));
    }
  }

  /** Files of a dataset repository that describe it rather than hold its records. */
  static final java.util.regex.Pattern METADATA = java.util.regex.Pattern.compile(
      "(readme|license|licence|notice|citation)(\\..*)?|dataset_infos?\\.json|dataset_dict\\.json|state\\.json");

  /** The data files of a listing for a format: JSONL reads JSON-lines and Parquet files. */
  static List<Source.Entry> dataFiles(Source.Listing listing, DataSource.Format format, String uri, String field)
      throws InvalidModelException {
    List<Source.Entry> out = new ArrayList<>();
    for (Source.Entry e : listing.entries()) {
      String name = e.path().toLowerCase(Locale.ROOT);
      String file = name.substring(name.lastIndexOf('/') + 1);
      if (listing.entries().size() > 1 && (METADATA.matcher(file).matches() || file.startsWith("."))) {
        continue; // a dataset repository's card, licence and metadata are not documents
      }
      boolean fits = switch (format) {
        case JSONL -> name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".parquet");
        case TEXT -> name.endsWith(".txt") || name.endsWith(".md") || !name.contains(".");
        case TOKENS -> !name.endsWith(".parquet"); // records, not token files
      };
      // a source naming one file is taken as it is, whatever its name
      if (fits || listing.entries().size() == 1) {
        out.add(e);
      }
    }
    if (out.isEmpty()) {
      throw new InvalidModelException(field + ": " + uri + " (revision " + listing.revision() + ") holds no "
          + format.name().toLowerCase(Locale.ROOT) + " files");
    }
    return out;
  }

  private static Fetcher.Result fetch(Fetcher fetcher, Options options, String uri, String field, String secret,
      String secretField, Fetcher.Selection selection) throws StageException, IOException {
    StorageUri parsed;
    try {
      parsed = StorageUri.parse(uri, field);
    } catch (InvalidUriException e) {
      throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
    }
    try {
      Credentials credentials = Credentials.load(options.secretsDir(), secret, secretField);
      Source created;
      try {
        created = options.sources().create(parsed, credentials, secretField);
      } catch (IllegalArgumentException | UnsupportedOperationException e) {
        throw new StageException(ExitCode.INVALID_CONFIGURATION, field + ": " + e.getMessage(), e);
      }
      try (Source source = created) {
        return fetcher.fetch(uri, source, selection);
      }
    } catch (CredentialsException e) {
      throw new StageException(ExitCode.CREDENTIALS_REJECTED, field + ": " + e.getMessage(), e);
    } catch (SourceNotFoundException | InvalidModelException e) {
      throw new StageException(ExitCode.MISSING_INPUT, field + ": " + e.getMessage(), e);
    } catch (ChecksumMismatchException e) {
      throw new StageException(ExitCode.RUNTIME_FAILURE, field + ": " + e.getMessage()
          + " (the partial file was removed; a restart downloads it again)", e);
    }
  }

  /**
   * The files the cache entry's manifest lists, hard-linked into the target directory (replaced as a whole), with the
   * manifest. Other files of the entry (a fetch of the same source with another selection) are left out.
   *
   * @return whether the target changed
   */
  private static boolean place(Path entry, Path target) throws IOException {
    FetchManifest manifest = FetchManifest.read(entry).orElseThrow(() -> new IOException(entry + " has no manifest"));
    if (FetchManifest.read(target).filter(manifest::equals).isPresent() && present(target, manifest)) {
      return false;
    }
    AtomicDirectory.write(target, dir -> {
      for (FetchManifest.File f : manifest.files()) {
        Path from = entry.resolve(f.path());
        Path to = dir.resolve(f.path());
        Files.createDirectories(to.getParent());
        try {
          Files.createLink(to, from);
        } catch (UnsupportedOperationException | IOException e) {
          Files.copy(from, to);
        }
      }
      manifest.write(dir);
    });
    return true;
  }

  private static boolean present(Path dir, FetchManifest manifest) throws IOException {
    for (FetchManifest.File f : manifest.files()) {
      Path p = dir.resolve(f.path());
      if (!Files.isRegularFile(p) || Files.size(p) != f.size()) {
        return false;
      }
    }
    return true;
  }

  private static StageException invalid(List<Violation> violations) {
    return new StageException(ExitCode.INVALID_CONFIGURATION, "the spec breaks " + (violations.size() == 1 ? "a rule"
        : violations.size() + " rules") + ":\n  " + violations.stream().map(Violation::toString)
            .collect(Collectors.joining("\n  ")));
  }
}
