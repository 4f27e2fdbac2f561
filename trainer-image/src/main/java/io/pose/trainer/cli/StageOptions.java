package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** What every stage command reads: the ContextExtension, the workspace, and how the workspace is named. */
final class StageOptions {

  @Option(names = TrainerContract.CONFIG_FLAG, required = true, paramLabel = "<file>",
      description = "The ContextExtension (YAML or JSON): a spec file, or the rendered config a stage pod mounts at "
          + TrainerContract.CONFIG_PATH + ".")
  Path config;

  @Option(names = "--workspace", paramLabel = "<dir>", defaultValue = "${env:" + Env.WORKSPACE + ":-"
      + TrainerContract.WORKSPACE_DIR + "}", description = "The workspace (default: $" + Env.WORKSPACE
          + " or ${DEFAULT-VALUE}).")
  Path workspace;

  @Option(names = "--workspace-uri", paramLabel = "<uri>", defaultValue = "${env:" + Env.WORKSPACE_URI + "}",
      description = "The workspace as pvc://claim: locations are reported under it, and pvc:// URIs on that claim "
          + "are read and written in the workspace. Default: $" + Env.WORKSPACE_URI + ", else file URIs.")
  String workspaceUri;
}
