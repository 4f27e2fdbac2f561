package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.FetchReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.fetch.Sources;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.stage.FetchStage;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose fetch}: the Fetch stage. */
@Command(name = "fetch", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Fetches the base model, the training data and the evaluation data into the stage.workspace, verified, "
        + "and checks the model before any GPU time is spent.",
        "Writes <stage.workspace>/" + Workspace.BASE_MODEL + ", <stage.workspace>/" + Workspace.TRAINING_DATA + ", <stage.workspace>/"
            + Workspace.EVAL_DATA + " (through a cache in <stage.workspace>/" + FetchStage.CACHE + ")."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:fetched (or found in the cache)", "1:runtime failure (network, server errors): a restart "
        + "resumes", "2:invalid configuration (spec, URI)", "3:missing input or a model the pipeline cannot use",
        "4:credentials missing or rejected"})
final class FetchCommand implements Callable<Integer> {

  static final int ATTEMPTS = 5;

  @Spec
  CommandSpec spec;

  @Mixin
  StageOptions stage = new StageOptions();

  @Mixin
  ProgressOptions reporting = new ProgressOptions();

  @Mixin
  StorageOptions storage = new StorageOptions();

  @Option(names = "--parallel", paramLabel = "<n>", defaultValue = "8",
      description = "Downloads at once. Default: ${DEFAULT-VALUE}.")
  int parallel;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    ContextExtension resource;
    try {
      resource = Commands.read(stage.config, err);
    } catch (Commands.ConfigError e) {
      return e.exitCode;
    }
    if (parallel < 1) {
      return Commands.fail(err, ExitCode.INVALID_CONFIGURATION, "--parallel must be at least 1, not " + parallel);
    }
    return Commands.guard(err, "fetch", true, () -> {
      FetchReport report = FetchStage.run(resource, new FetchStage.Options(stage.workspace, storage.secretsDir,
          stage.workspaceUri, parallel, out, Sources.standard(stage.workspace, stage.workspaceUri, storage.pvcDir,
              storage.hubEndpoint)));
      out.printf("fetched: %s (revision %s), original context %d%n", report.getModelUri(), report.getModelRevision(),
          report.getOriginalContextLength());
      try (ProgressConfigMap configMap = Commands.progressConfigMap(reporting.configMap, reporting.namespace,
          Stage.FETCH, out)) {
        if (configMap != null) {
          configMap.write(report, ATTEMPTS);
        }
      }
      out.flush();
      return ExitCode.OK.code();
    });
  }
}
