package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.train.MemoryPlan;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pose plan}: the memory plan of a training run before any GPU time: what one rank needs at its peak for the
 * spec's model, precision, ZeRO stage, micro batch, window and recomputation over its nodes x GPUs, against a GPU's
 * memory, with what would fit when it does not. The same plan {@code pose train} prints and enforces.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Prints the memory plan of the spec's training run per GPU, and whether it fits.",
        "Reads the base model's config.json (--model-config, or <workspace>/base-model/config.json)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the plan fits (or no GPU memory was given)", "2:the plan does not fit, or the spec is invalid",
        "3:the model config is missing or unreadable"})
final class PlanCommand implements Callable<Integer> {

  private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(GiB|GB|MiB|MB|TiB|TB)?\\s*");

  @Spec
  CommandSpec spec;

  @Option(names = "--config", required = true, paramLabel = "<file>", description = "The ContextExtension (YAML or JSON).")
  Path config;

  @Option(names = "--model-config", paramLabel = "<config.json>",
      description = "The base model's config.json. Default: <workspace>/base-model/config.json.")
  Path modelConfig;

  @Option(names = "--workspace", paramLabel = "<dir>", defaultValue = ".", description = "Default: ${DEFAULT-VALUE}.")
  Path workspace;

  @Option(names = "--gpu-memory", paramLabel = "<size>",
      description = "A GPU's memory (e.g. 80GB, 48GiB): the plan is checked against it, and what would fit is named.")
  String gpuMemory;

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
    Long device = null;
    if (gpuMemory != null) {
      device = bytes(gpuMemory);
      if (device == null) {
        return Commands.fail(err, ExitCode.INVALID_CONFIGURATION, "--gpu-memory: \"" + gpuMemory
            + "\" is not a size such as 80GB or 48GiB");
      }
    }
    Path file = modelConfig != null ? modelConfig : workspace.resolve("base-model/config.json");
    ModelConfig model;
    try {
      model = HfConfigs.parse(HfConfigs.tree(Files.readString(file), file.toString()), file.toString());
    } catch (java.io.IOException e) {
      return Commands.fail(err, ExitCode.MISSING_INPUT, file + ": cannot be read (" + e.getMessage()
          + "); give the base model's config.json with --model-config");
    } catch (ConfigException e) {
      return Commands.fail(err, ExitCode.MISSING_INPUT, e.getMessage());
    }
    ContextExtensionSpec s = SpecDefaults.apply(resource.getSpec(), model.originalContextLength());
    TrainingSettings t = s.getTraining();
    int gpus = s.getResources().getGpusPerNode();
    int perNode = Math.max(1, gpus);
    int world = s.getResources().getNodes() * perNode;
    ComputeType compute = io.pose.trainer.stage.TrainStage.computeType(t.getPrecision());
    // tokens per sample: the training window, or the target length for full-length fine-tuning
    int tokens = io.pose.trainer.stage.TrainStage.sampler(s).trainingWindow();
    MemoryPlan plan = MemoryPlan.of(new MemoryPlan.Inputs(model, world, t.getZeroStage(), compute,
        t.getMicroBatchSize(), tokens, t.getActivationCheckpointing(), gpus > 0));
    long params = MemoryPlan.totalParameters(model);
    out.printf(Locale.ROOT, "%s: %s parameters, %d layers; %d node%s x %d %s%n", file, String.format(Locale.ROOT,
        "%,d", params), model.numHiddenLayers(), s.getResources().getNodes(), s.getResources().getNodes() == 1 ? "" : "s",
        perNode, gpus > 0 ? "GPUs" : "CPU rank");
    out.print(plan.table(device == null ? 0 : device));
    if (t.getZeroStage() >= 2 && gpus > 0) {
      out.printf(Locale.ROOT, "model states %s per GPU; DeepSpeed's estimate for ZeRO-%d on %d GPUs: %s%n",
          MemoryPlan.gib(plan.modelStates()), t.getZeroStage(), world,
          MemoryPlan.gib(MemoryPlan.deepSpeedModelStates(model, t.getZeroStage(), world)));
    }
    if (device != null && plan.total() > device) {
      List<String> fits = plan.alternatives(device, perNode);
      return Commands.fail(err, ExitCode.INVALID_CONFIGURATION, "the plan needs " + MemoryPlan.gib(plan.total())
          + " per GPU, more than " + MemoryPlan.gib(device) + (fits.isEmpty() ? "; nothing tried fits: use GPUs with "
              + "more memory or " + io.pose.trainer.stage.TrainStage.shorterSamples(s.getPose())
              : "; would fit: " + String.join("; or ", fits)));
    }
    out.flush();
    return ExitCode.OK.code();
  }

  /** 80GB, 48GiB, 81920MiB, 1.5TB; decimal and binary units; bare numbers are bytes. */
  static Long bytes(String text) {
    Matcher m = SIZE.matcher(text);
    if (!m.matches()) {
      return null;
    }
    double v = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "" : m.group(2).toUpperCase(Locale.ROOT);
    double scale = switch (unit) {
      case "GIB" -> 1L << 30;
      case "GB" -> 1e9;
      case "MIB" -> 1L << 20;
      case "MB" -> 1e6;
      case "TIB" -> 1L << 40;
      case "TB" -> 1e12;
      default -> 1;
    };
    return (long) (v * scale);
  }
}
