package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.contract.TrainerContract.Workspace;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.api.contract.TrainerContract.Env;
import io.pose.trainer.progress.ConfigMapProgress;
import io.pose.trainer.progress.ConsoleProgress;
import io.pose.trainer.progress.PrometheusEndpoint;
import io.pose.trainer.progress.JsonLinesProgress;
import io.pose.trainer.progress.ProgressListener;
import io.pose.trainer.stage.TrainStage;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pose train}: the Train stage. */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"PoSE-trains the base model in the stage.workspace and writes the extended model.",
        "Reads <stage.workspace>/" + Workspace.BASE_MODEL + " and <stage.workspace>/" + Workspace.TRAINING_DATA + ", writes <stage.workspace>/"
            + Workspace.CHECKPOINTS + " (resuming from the newest) and <stage.workspace>/" + Workspace.EXTENDED_MODEL + "."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:done (or stopped at --stop-after-steps)", "1:runtime failure: a restart may help",
        "2:invalid configuration", "3:missing or unreadable input (model, data, checkpoint)"})
final class TrainCommand implements Callable<Integer> {

  /** The least time between two progress writes into the ConfigMap (checkpoints and the end are always written). */
  static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(10);

  /** How progress is shown on stdout. */
  enum ProgressStyle { AUTO, BAR, LINES, NONE }

  @Spec
  CommandSpec spec;

  @Mixin
  StageOptions stage = new StageOptions();

  @Mixin
  ProgressOptions reporting = new ProgressOptions();

  @Option(names = "--stop-after-steps", paramLabel = "<n>",
      description = "Stop after step n (its checkpoint is written); the next run resumes from there.")
  Integer stopAfterSteps;

  @Option(names = "--progress", paramLabel = "<style>", defaultValue = "auto",
      description = "auto (a bar on a terminal, lines otherwise), bar, lines or none. Default: ${DEFAULT-VALUE}.")
  ProgressStyle progress;

  @Option(names = "--log-interval", paramLabel = "<seconds>", defaultValue = "10",
      description = "Least seconds between two progress lines (lines style). Default: ${DEFAULT-VALUE}.")
  double logInterval;

  @Option(names = "--metrics-port", paramLabel = "<port>", defaultValue = "${env:" + Env.METRICS_PORT + "}",
      description = "Serve Prometheus metrics on this port (GET /metrics; 0: any free port). Default: $"
          + Env.METRICS_PORT + ", else none.")
  Integer metricsPort;

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
    List<ProgressListener> listeners = new ArrayList<>();
    return Commands.guard(err, "train", true, () -> {
      try {
        boolean terminal = System.console() != null;
        Duration interval = Duration.ofMillis((long) (logInterval * 1000));
        switch (progress) {
          case AUTO -> listeners.add(new ConsoleProgress(out, terminal, interval));
          case BAR -> listeners.add(new ConsoleProgress(out, true, Duration.ZERO));
          case LINES -> listeners.add(new ConsoleProgress(out, false, interval));
          case NONE -> { }
        }
        listeners.add(new JsonLinesProgress(stage.workspace.resolve(Workspace.LOGS)));
        String run = resource.getMetadata().getName();
        if (metricsPort != null) {
          PrometheusEndpoint metrics = new PrometheusEndpoint(metricsPort, run);
          listeners.add(metrics);
          out.printf("metrics: http://0.0.0.0:%d/metrics%n", metrics.port());
        }
        String rank = System.getenv(Env.NODE_RANK);
        ProgressConfigMap configMap = rank == null || rank.equals("0")
            ? Commands.progressConfigMap(reporting.configMap, reporting.namespace, Stage.TRAIN, out) : null;
        if (configMap != null) {
          listeners.add(new ConfigMapProgress(configMap, PROGRESS_INTERVAL));
        }
        TrainStage.Result result = TrainStage.run(resource,
            new TrainStage.Options(stage.workspace, stopAfterSteps, out, listeners, stage.workspaceUri));
        return result.stepsDone() >= result.totalSteps() || stopAfterSteps != null ? ExitCode.OK.code()
            : ExitCode.RUNTIME_FAILURE.code();
      } finally {
        listeners.forEach(ProgressListener::close);
      }
    });
  }
}
