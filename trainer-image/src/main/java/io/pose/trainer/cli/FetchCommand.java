package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.FetchReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.fetch.Sources;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.stage.FetchStage;
import io.pose.trainer.stage.StageException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose fetch}: the Fetch stage. */
@Command(name = "fetch", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Fetches the base model, the training data and the evaluation data into the workspace, verified, "
        + "and checks the model before any GPU time is spent.",
        "Writes <workspace>/" + Workspace.BASE_MODEL + ", <workspace>/" + Workspace.TRAINING_DATA + ", <workspace>/"
            + Workspace.EVAL_DATA + " (through a cache in <workspace>/" + FetchStage.CACHE + ")."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:fetched (or found in the cache)", "1:runtime failure (network, server errors): a restart "
        + "resumes", "2:invalid configuration (spec, URI)", "3:missing input or a model the pipeline cannot use",
        "4:credentials missing or rejected"})
final class FetchCommand implements Callable<Integer> {

  static final int ATTEMPTS = 5;

  @Spec
  CommandSpec spec;

  @Option(names = TrainerContract.CONFIG_FLAG, required = true, paramLabel = "<file>",
      description = "The ContextExtension (YAML or JSON): a spec file, or the rendered config a stage pod mounts at "
          + TrainerContract.CONFIG_PATH + ".")
  Path config;

  @Option(names = "--workspace", paramLabel = "<dir>", defaultValue = "${env:POSE_WORKSPACE:-"
      + TrainerContract.WORKSPACE_DIR + "}", description = "The workspace (default: $POSE_WORKSPACE or ${DEFAULT-VALUE}).")
  Path workspace;

  @Option(names = "--secrets-dir", paramLabel = "<dir>", defaultValue = "${env:" + Env.SECRETS_DIR + ":-"
      + TrainerContract.SECRETS_DIR + "}",
      description = "Where credentials Secrets are mounted, one directory per Secret (default: $" + Env.SECRETS_DIR
          + " or ${DEFAULT-VALUE}).")
  Path secretsDir;

  @Option(names = "--workspace-uri", paramLabel = "<uri>", defaultValue = "${env:" + Env.WORKSPACE_URI + "}",
      description = "The workspace as pvc://claim (pvc:// sources on that claim are read under the workspace; the "
          + "model's location is reported under it). Default: $" + Env.WORKSPACE_URI + ".")
  String workspaceUri;

  @Option(names = "--pvc-dir", paramLabel = "<dir>", defaultValue = TrainerContract.PVC_DIR,
      description = "Where other claims named by pvc:// sources are mounted. Default: ${DEFAULT-VALUE}.")
  Path pvcDir;

  @Option(names = "--parallel", paramLabel = "<n>", defaultValue = "8",
      description = "Downloads at once. Default: ${DEFAULT-VALUE}.")
  int parallel;

  @Option(names = "--hf-endpoint", paramLabel = "<url>", defaultValue = "${env:HF_ENDPOINT:-https://huggingface.co}",
      description = "The Hugging Face Hub of hf:// sources (a mirror or a private Hub). Default: $HF_ENDPOINT, else "
          + "${DEFAULT-VALUE}.")
  java.net.URI hubEndpoint;

  @Option(names = "--progress-configmap", paramLabel = "<name>", defaultValue = "${env:" + Env.PROGRESS_CONFIGMAP + "}",
      description = "Report into this ConfigMap's fetch.json. Default: $" + Env.PROGRESS_CONFIGMAP + ", else none.")
  String progressConfigMap;

  @Option(names = "--namespace", paramLabel = "<namespace>", defaultValue = "${env:" + Env.NAMESPACE + "}",
      description = "Namespace of the progress ConfigMap. Default: $" + Env.NAMESPACE + ", else the client's.")
  String namespace;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    ContextExtension resource;
    try {
      resource = Commands.read(config, err);
    } catch (Commands.ConfigError e) {
      return e.exitCode;
    }
    if (parallel < 1) {
      return Commands.fail(err, ExitCode.INVALID_CONFIGURATION, "--parallel must be at least 1, not " + parallel);
    }
    ProgressConfigMap configMap = null;
    try {
      FetchReport report = FetchStage.run(resource, new FetchStage.Options(workspace, secretsDir, workspaceUri,
          parallel, out, Sources.standard(workspace, workspaceUri, pvcDir, hubEndpoint)));
      out.printf("fetched: %s (revision %s), original context %d%n", report.getModelUri(), report.getModelRevision(),
          report.getOriginalContextLength());
      configMap = Commands.progressConfigMap(progressConfigMap, namespace, Stage.FETCH, out);
      if (configMap != null) {
        configMap.write(report, ATTEMPTS);
      }
      out.flush();
      return ExitCode.OK.code();
    } catch (StageException e) {
      return Commands.fail(err, e.exitCode(), e.getMessage());
    } catch (Exception e) {
      err.println("error: the Fetch stage failed (a restart resumes the downloads):");
      e.printStackTrace(err);
      err.flush();
      return ExitCode.RUNTIME_FAILURE.code();
    } finally {
      if (configMap != null) {
        configMap.close();
      }
    }
  }
}
