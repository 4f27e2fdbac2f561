package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.PublishReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.publish.PublishTargets;
import io.pose.trainer.stage.PublishStage;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose publish}: the Publish stage. */
@Command(name = "publish", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Publishes the extended model, its model card, training configuration and evaluation results to "
        + "spec.publish.target (hf://, s3://, oci://, pvc:// or file://).",
        "Reads <stage.workspace>/" + Workspace.EXTENDED_MODEL + " and <stage.workspace>/" + Workspace.EVAL_RESULTS + "."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:published", "1:runtime failure (network, target errors): a restart may help",
        "2:invalid configuration (spec, target URI)", "3:missing or unreadable input (model, results)",
        "4:credentials missing or rejected", "5:quality gate failed: nothing was published"})
final class PublishCommand implements Callable<Integer> {

  /** Attempts of the final report's write into the ConfigMap. */
  static final int ATTEMPTS = 5;

  @Spec
  CommandSpec spec;

  @Mixin
  StageOptions stage = new StageOptions();

  @Mixin
  ProgressOptions reporting = new ProgressOptions();

  @Mixin
  StorageOptions storage = new StorageOptions();

  @Option(names = "--modelcar-base", paramLabel = "<image>", defaultValue = "${env:POSE_MODELCAR_BASE:-"
      + io.pose.trainer.publish.OciTarget.DEFAULT_BASE_IMAGE + "}",
      description = "Base image of oci:// (KServe ModelCar) images; it needs a shell for KServe's sidecar. Default: "
          + "$POSE_MODELCAR_BASE, else ${DEFAULT-VALUE}.")
  String modelCarBase;


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
    return Commands.guard(err, "publish", true, () -> {
      PublishTargets.Factory factory = PublishTargets.standard(stage.workspace, stage.workspaceUri, storage.pvcDir,
          modelCarBase, storage.hubEndpoint);
      PublishReport report = PublishStage.run(resource, new PublishStage.Options(stage.workspace, storage.secretsDir,
          out, factory));
      try (ProgressConfigMap configMap = Commands.progressConfigMap(reporting.configMap, reporting.namespace,
          Stage.PUBLISH, out)) {
        if (configMap != null) {
          configMap.write(report, ATTEMPTS);
        }
      }
      out.flush();
      return ExitCode.OK.code();
    });
  }
}
