package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.Env;
import picocli.CommandLine.Option;

/** The progress ConfigMap a stage reports into (the progress protocol, docs/trainer-contract.md). */
final class ProgressOptions {

  @Option(names = "--progress-configmap", paramLabel = "<name>", defaultValue = "${env:" + Env.PROGRESS_CONFIGMAP + "}",
      description = "Report into this ConfigMap's key for the stage (train.json, eval.json, ...). Default: $"
          + Env.PROGRESS_CONFIGMAP + ", else none.")
  String configMap;

  @Option(names = "--namespace", paramLabel = "<namespace>", defaultValue = "${env:" + Env.NAMESPACE + "}",
      description = "Namespace of the progress ConfigMap. Default: $" + Env.NAMESPACE + ", else the client's.")
  String namespace;
}
