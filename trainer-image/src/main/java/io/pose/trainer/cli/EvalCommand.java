package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.eval.LanguageModel;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.stage.EvalStage;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose eval}: the Evaluate stage. */
@Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Measures passkey retrieval, perplexity and benchmarks on the extended model (and the base model).",
        "Reads <stage.workspace>/" + Workspace.EXTENDED_MODEL + ", <stage.workspace>/" + Workspace.BASE_MODEL + " and <stage.workspace>/"
            + Workspace.EVAL_DATA + ", writes <stage.workspace>/" + Workspace.EVAL_RESULTS
            + " (results.json, results.md, plots)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:done", "1:runtime failure: a restart may help", "2:invalid configuration",
        "3:missing or unreadable input (model, evaluation data)"})
final class EvalCommand implements Callable<Integer> {

  /** Attempts of each results write into the ConfigMap. */
  static final int ATTEMPTS = 3;

  @Spec
  CommandSpec spec;

  @Mixin
  StageOptions stage = new StageOptions();

  @Mixin
  ProgressOptions reporting = new ProgressOptions();

  @Option(names = "--block", paramLabel = "<tokens>", defaultValue = "" + LanguageModel.DEFAULT_BLOCK,
      description = "Tokens per block of inference: attention memory grows with block x length. Default: ${DEFAULT-VALUE}.")
  int block;

  @Option(names = "--precision", paramLabel = "<type>", defaultValue = "fp32",
      description = "Precision of the matrix products: fp32, bf16 or fp16. Default: ${DEFAULT-VALUE}.")
  ComputeType precision;

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
    if (block < 1) {
      return Commands.fail(err, ExitCode.INVALID_CONFIGURATION, "--block must be positive, not " + block);
    }
    return Commands.guard(err, "eval", false, () -> {
      try (ProgressConfigMap configMap = Commands.progressConfigMap(reporting.configMap, reporting.namespace,
          Stage.EVALUATE, out)) {
        EvaluationResults results = EvalStage.run(resource, new EvalStage.Options(stage.workspace, out, r -> {
          if (configMap != null) {
            configMap.write(r, ATTEMPTS);
          }
        }, block, precision));
        out.flush();
        return Boolean.TRUE.equals(results.getCompleted()) ? ExitCode.OK.code() : ExitCode.RUNTIME_FAILURE.code();
      }
    });
  }
}
