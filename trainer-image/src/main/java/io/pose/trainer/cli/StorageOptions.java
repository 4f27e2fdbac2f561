package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import java.net.URI;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the stages that move data (Fetch, Publish) find credentials, other claims and the Hub. */
final class StorageOptions {

  @Option(names = "--secrets-dir", paramLabel = "<dir>", defaultValue = "${env:" + Env.SECRETS_DIR + ":-"
      + TrainerContract.SECRETS_DIR + "}",
      description = "Where credentials Secrets are mounted, one directory per Secret (default: $" + Env.SECRETS_DIR
          + " or ${DEFAULT-VALUE}).")
  Path secretsDir;

  @Option(names = "--pvc-dir", paramLabel = "<dir>", defaultValue = TrainerContract.PVC_DIR,
      description = "Where claims other than the workspace named by pvc:// URIs are mounted. Default: ${DEFAULT-VALUE}.")
  Path pvcDir;

  @Option(names = "--hf-endpoint", paramLabel = "<url>", defaultValue = "${env:HF_ENDPOINT:-https://huggingface.co}",
      description = "The Hugging Face Hub of hf:// URIs (a mirror or a private Hub). Default: $HF_ENDPOINT, else "
          + "${DEFAULT-VALUE}.")
  URI hubEndpoint;
}
