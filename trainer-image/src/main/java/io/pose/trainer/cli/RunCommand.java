package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.PublishReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.trainer.eval.LanguageModel;
import io.pose.trainer.fetch.Sources;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.progress.ConsoleProgress;
import io.pose.trainer.progress.JsonLinesProgress;
import io.pose.trainer.progress.ProgressListener;
import io.pose.trainer.publish.PublishTargets;
import io.pose.trainer.stage.EvalStage;
import io.pose.trainer.stage.FetchStage;
import io.pose.trainer.stage.PublishStage;
import io.pose.trainer.stage.StageException;
import io.pose.trainer.stage.TrainStage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pose run -f <spec>}: the whole pipeline in one process, as the operator runs it on a cluster: Fetch, Train,
 * Evaluate (when the spec measures anything) and Publish (when it names a target), in one local workspace. A second
 * run resumes: the fetch finds its cache, training its newest checkpoint.
 */
@Command(name = "run", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Runs fetch, train, eval and publish for a ContextExtension in this process (no cluster needed).",
    exitCodeListHeading = "%nExit codes (those of the stage that failed):%n",
    exitCodeList = {"0:done", "1:runtime failure: running again resumes", "2:invalid configuration",
        "3:missing or unusable input", "4:credentials missing or rejected", "5:quality gate failed"})
final class RunCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = {"-f", "--file"}, required = true, paramLabel = "<file>",
      description = "The ContextExtension (YAML or JSON).")
  Path file;

  @Option(names = "--workspace", paramLabel = "<dir>",
      description = "The workspace (default: .pose/<metadata.name> in the current directory).")
  Path workspace;

  @Option(names = "--secrets-dir", paramLabel = "<dir>", defaultValue = "${env:POSE_SECRETS_DIR:-${sys:user.home}"
      + "/.config/pose/secrets}", description = "One directory per credentials Secret the spec names, one file per "
          + "key (default: $POSE_SECRETS_DIR, else ${DEFAULT-VALUE}).")
  Path secretsDir;

  @Option(names = "--parallel", paramLabel = "<n>", defaultValue = "8", description = "Downloads at once.")
  int parallel;

  @Option(names = "--hf-endpoint", paramLabel = "<url>", defaultValue = "${env:HF_ENDPOINT:-https://huggingface.co}",
      description = "The Hugging Face Hub (default: $HF_ENDPOINT, else ${DEFAULT-VALUE}).")
  java.net.URI hubEndpoint;

  @Option(names = "--progress", paramLabel = "<style>", defaultValue = "auto",
      description = "Training progress: auto, bar, lines or none. Default: ${DEFAULT-VALUE}.")
  TrainCommand.ProgressStyle progress;

  @Option(names = "--stop-after-steps", paramLabel = "<n>",
      description = "Stop training after step n (its checkpoint is written) and end the run there; the next run "
          + "resumes from it.")
  Integer stopAfterSteps;

  @Option(names = "--log-interval", paramLabel = "<seconds>", defaultValue = "10",
      description = "Least seconds between two progress lines (lines style). Default: ${DEFAULT-VALUE}.")
  double logInterval;

  @Option(names = "--block", paramLabel = "<tokens>", defaultValue = "" + LanguageModel.DEFAULT_BLOCK,
      description = "Tokens per block of evaluation inference. Default: ${DEFAULT-VALUE}.")
  int block;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    ContextExtension resource;
    try {
      resource = Commands.read(file, err);
    } catch (Commands.ConfigError e) {
      return e.exitCode;
    }
    Path ws = (workspace != null ? workspace : Path.of(".pose", resource.getMetadata().getName()))
        .toAbsolutePath().normalize();
    out.printf(Locale.ROOT, "workspace: %s%n", ws);
    String stage = "fetch";
    List<ProgressListener> listeners = new ArrayList<>();
    try {
      header(out, "fetch");
      FetchReport fetched = FetchStage.run(resource, new FetchStage.Options(ws, secretsDir, null, parallel, out,
          Sources.standard(ws, null, ws.resolve("pvc"), hubEndpoint)));
      out.printf(Locale.ROOT, "base model at revision %s, original context %d%n", fetched.getModelRevision(),
          fetched.getOriginalContextLength());

      stage = "train";
      header(out, stage);
      Duration interval = Duration.ofMillis((long) (logInterval * 1000));
      switch (progress) {
        case AUTO -> listeners.add(new ConsoleProgress(out, System.console() != null, interval));
        case BAR -> listeners.add(new ConsoleProgress(out, true, Duration.ZERO));
        case LINES -> listeners.add(new ConsoleProgress(out, false, interval));
        case NONE -> { }
      }
      listeners.add(new JsonLinesProgress(ws.resolve(io.pose.api.contract.TrainerContract.Workspace.LOGS)));
      TrainStage.Result trained = TrainStage.run(resource, new TrainStage.Options(ws, stopAfterSteps, out, listeners,
          null));
      if (trained.extendedModel() == null && stopAfterSteps != null) {
        out.printf(Locale.ROOT, "stopped after step %d of %d as asked (--stop-after-steps); run again to resume%n",
            trained.stepsDone(), trained.totalSteps());
        out.flush();
        return ExitCode.OK.code();
      }
      if (trained.extendedModel() == null) {
        return Commands.fail(err, ExitCode.RUNTIME_FAILURE, "training stopped at step " + trained.stepsDone() + " of "
            + trained.totalSteps() + "; run again to resume");
      }

      EvaluationResults results = null;
      if (resource.getSpec().getEvaluation() != null && resource.getSpec().getEvaluation().hasAny()) {
        stage = "eval";
        header(out, stage);
        results = EvalStage.run(resource, new EvalStage.Options(ws, out, r -> { }, block, ComputeType.FP32));
        if (results.getPasskeyAccuracyAtTarget() != null) {
          out.printf(Locale.ROOT, "passkey accuracy at %d tokens: %.1f%%%n",
              resource.getSpec().getTargetContextLength(), 100 * results.getPasskeyAccuracyAtTarget());
        }
      }

      if (resource.getSpec().getPublish() != null) {
        stage = "publish";
        header(out, stage);
        PublishReport published = PublishStage.run(resource, new PublishStage.Options(ws, secretsDir, out,
            PublishTargets.standard(ws, null, ws.resolve("pvc"),
                io.pose.trainer.publish.OciTarget.DEFAULT_BASE_IMAGE, hubEndpoint)));
        summary(out, results, resource, fetched.getOriginalContextLength(), ws);
        out.printf(Locale.ROOT, "done: %s%n", published.getPublishedUri());
      } else {
        summary(out, results, resource, fetched.getOriginalContextLength(), ws);
        out.printf(Locale.ROOT, "done: %s%n", trained.extendedModel());
      }
      out.flush();
      return ExitCode.OK.code();
    } catch (StageException e) {
      return Failures.report(err, e, stage, !stage.equals("eval"));
    } catch (Exception e) {
      // fetch and train resume; eval measures again; publish leaves nothing partial at the target
      return Failures.report(err, e, stage, !stage.equals("eval"));
    } finally {
      listeners.forEach(ProgressListener::close);
    }
  }

  /**
   * The before/after table that ends a run: passkey accuracy (and perplexity) by length for the base and the extended
   * model, the original window, the training window and the target marked, and where the plots are.
   */
  static void summary(PrintWriter out, EvaluationResults results, ContextExtension resource, Integer original,
      Path ws) {
    if (results == null || (results.getPasskey().isEmpty() && results.getPerplexity().isEmpty())) {
      return;
    }
    header(out, "summary");
    int target = resource.getSpec().getTargetContextLength();
    Integer window = resource.getSpec().getPose() == null ? null : resource.getSpec().getPose().getTrainingWindow();
    if (!results.getPasskey().isEmpty()) {
      out.printf(Locale.ROOT, "passkey retrieval (%d trials per length)%n", results.getPasskey().get(0).getTrials());
      out.printf(Locale.ROOT, "%8s %8s %9s%n", "length", "base", "extended");
      for (EvaluationResults.PasskeyResult r : results.getPasskey()) {
        out.printf(Locale.ROOT, "%8d %8s %9s  %s%n", r.getLength(), percent(r.getBaseAccuracy()),
            percent(r.getAccuracy()), marks(r.getLength(), original, window, target));
      }
    }
    if (!results.getPerplexity().isEmpty()) {
      out.printf(Locale.ROOT, "perplexity%n");
      out.printf(Locale.ROOT, "%8s %8s %9s%n", "length", "base", "extended");
      for (EvaluationResults.PerplexityResult r : results.getPerplexity()) {
        out.printf(Locale.ROOT, "%8d %8s %9s  %s%n", r.getLength(), number(r.getBasePerplexity()),
            number(r.getPerplexity()), marks(r.getLength(), original, window, target));
      }
    }
    Path plots = ws.resolve(io.pose.api.contract.TrainerContract.Workspace.EVAL_RESULTS);
    out.printf(Locale.ROOT, "plot: %s%n", plots.resolve(results.getPasskey().isEmpty()
        ? io.pose.trainer.eval.EvalReport.PERPLEXITY_PLOT : io.pose.trainer.eval.EvalReport.PASSKEY_PLOT));
    out.flush();
  }

  private static String marks(int length, Integer original, Integer window, int target) {
    List<String> marks = new ArrayList<>();
    if (original != null && length == original) {
      marks.add("original window");
    }
    if (window != null && length == window && !window.equals(original)) {
      marks.add("training window");
    }
    if (length == target) {
      marks.add("target");
    }
    return String.join(", ", marks);
  }

  private static String percent(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * value);
  }

  private static String number(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.2f", value);
  }

  private static void header(PrintWriter out, String stage) {
    out.printf(Locale.ROOT, "%n== %s ==%n", stage);
    out.flush();
  }
}
