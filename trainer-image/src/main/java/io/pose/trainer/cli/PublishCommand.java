package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.PublishReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.publish.PublishTargets;
import io.pose.trainer.stage.PublishStage;
import io.pose.trainer.stage.StageException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose publish}: the Publish stage. */
@Command(name = "publish", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Publishes the extended model, its model card, training configuration and evaluation results to "
        + "spec.publish.target (hf://, s3://, oci://, pvc:// or file://).",
        "Reads <workspace>/" + Workspace.EXTENDED_MODEL + " and <workspace>/" + Workspace.EVAL_RESULTS + "."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:published", "1:runtime failure (network, target errors): a restart may help",
        "2:invalid configuration (spec, target URI)", "3:missing or unreadable input (model, results)",
        "4:credentials missing or rejected", "5:quality gate failed: nothing was published"})
final class PublishCommand implements Callable<Integer> {

  /** Attempts of the final report's write into the ConfigMap. */
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
      description = "The workspace as pvc://claim, so that pvc:// targets on the same claim land in the workspace. "
          + "Default: $" + Env.WORKSPACE_URI + ".")
  String workspaceUri;

  @Option(names = "--pvc-dir", paramLabel = "<dir>", defaultValue = TrainerContract.PVC_DIR,
      description = "Where other claims named by pvc:// targets are mounted. Default: ${DEFAULT-VALUE}.")
  Path pvcDir;

  @Option(names = "--modelcar-base", paramLabel = "<image>", defaultValue = "${env:POSE_MODELCAR_BASE:-"
      + io.pose.trainer.publish.OciTarget.DEFAULT_BASE_IMAGE + "}",
      description = "Base image of oci:// (KServe ModelCar) images; it needs a shell for KServe's sidecar. Default: "
          + "$POSE_MODELCAR_BASE, else ${DEFAULT-VALUE}.")
  String modelCarBase;

  @Option(names = "--hf-endpoint", paramLabel = "<url>", defaultValue = "${env:HF_ENDPOINT:-"
      + "https://huggingface.co}", description = "The Hugging Face Hub of hf:// targets (a mirror or a private Hub). "
          + "Default: $HF_ENDPOINT, else ${DEFAULT-VALUE}.")
  java.net.URI hubEndpoint;

  @Option(names = "--progress-configmap", paramLabel = "<name>", defaultValue = "${env:" + Env.PROGRESS_CONFIGMAP + "}",
      description = "Report the published location into this ConfigMap's publish.json. Default: $"
          + Env.PROGRESS_CONFIGMAP + ", else none.")
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
    ProgressConfigMap configMap = null;
    try {
      PublishTargets.Factory factory = PublishTargets.standard(workspace, workspaceUri, pvcDir, modelCarBase, hubEndpoint);
      PublishReport report = PublishStage.run(resource, new PublishStage.Options(workspace, secretsDir, out, factory));
      configMap = Commands.progressConfigMap(progressConfigMap, namespace, Stage.PUBLISH, out);
      if (configMap != null) {
        configMap.write(report, ATTEMPTS);
      }
      out.flush();
      return ExitCode.OK.code();
    } catch (StageException e) {
      return Commands.fail(err, e.exitCode(), e.getMessage());
    } catch (Exception e) {
      err.println("error: the Publish stage failed (nothing partial is visible at the target; a restart publishes again):");
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
