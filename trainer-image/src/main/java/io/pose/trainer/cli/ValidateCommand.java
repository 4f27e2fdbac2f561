package io.pose.trainer.cli;

import io.pose.api.SpecIO;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.EvaluationSettings;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pose validate -f <spec>}: the spec's rules and defaults, as the operator's admission and the stages apply
 * them, without a cluster, a model or a download. One line when it is valid; every broken rule, each naming its
 * field, when it is not.
 */
@Command(name = "validate", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Checks a ContextExtension against its rules and prints what it will do, with defaults applied.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:valid", "2:invalid (or unreadable): every broken rule is listed, naming its field"})
final class ValidateCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = {"-f", "--file"}, required = true, paramLabel = "<file>",
      description = "The ContextExtension (YAML or JSON).")
  Path file;

  @Option(names = "--original-context-length", paramLabel = "<tokens>",
      description = "The base model's trained context (else spec.model.originalContextLength; the Fetch stage reads "
          + "it from the model's config.json): checks the rules that depend on it.")
  Integer originalContextLength;

  @Option(names = {"-o", "--output"}, paramLabel = "<format>", defaultValue = "summary",
      description = "summary (one line) or yaml (the spec with every default applied). Default: ${DEFAULT-VALUE}.")
  Output output;

  enum Output { SUMMARY, YAML }

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    ContextExtension resource;
    try {
      resource = Commands.read(file, err);
    } catch (Commands.ConfigError e) {
      return e.exitCode;
    }
    List<Violation> violations = new ArrayList<>(SpecValidator.validate(resource));
    ContextExtensionSpec s = resource.getSpec();
    Integer original = originalContextLength != null ? originalContextLength
        : s.getModel() == null ? null : s.getModel().getOriginalContextLength();
    if (violations.isEmpty() && original != null) {
      violations.addAll(SpecValidator.validateWithModel(s, original));
    }
    if (!violations.isEmpty()) {
      err.println("error: " + file + " breaks " + (violations.size() == 1 ? "a rule" : violations.size() + " rules")
          + ":");
      violations.forEach(v -> err.println("  " + v));
      err.println("(exit " + ExitCode.INVALID_CONFIGURATION.code() + ": " + ExitCode.INVALID_CONFIGURATION.reason()
          + ")");
      err.flush();
      return ExitCode.INVALID_CONFIGURATION.code();
    }
    ContextExtensionSpec d = SpecDefaults.apply(s, original);
    if (output == Output.YAML) {
      resource.setSpec(d);
      out.print(SpecIO.toYaml(resource));
    } else {
      out.println(summary(resource.getMetadata().getName(), d, original == null));
    }
    out.flush();
    return ExitCode.OK.code();
  }

  /** One line: what the spec will do, with its defaults. */
  static String summary(String name, ContextExtensionSpec d, boolean originalUnknown) {
    StringBuilder b = new StringBuilder("valid: ").append(name).append(": ");
    Integer original = d.getModel().getOriginalContextLength();
    int target = d.getTargetContextLength();
    b.append(original == null ? "? -> " + target : original + " -> " + target).append(" tokens");
    if (d.getRopeScaling() != null && d.getRopeScaling().getType() != null) {
      b.append(", ").append(d.getRopeScaling().getType().name().toLowerCase(Locale.ROOT));
      if (d.getRopeScaling().getFactor() != null) {
        b.append(String.format(Locale.ROOT, " x%s", trim(d.getRopeScaling().getFactor())));
      }
    }
    if (d.getPose() != null) {
      b.append(", ").append(d.getPose().getMethod() == null ? "pose"
          : d.getPose().getMethod().name().toLowerCase(Locale.ROOT));
      if (d.getPose().getMethod() == PoseSettings.Method.FULL) {
        b.append(" (samples of up to the target length)");
      } else if (d.getPose().getTrainingWindow() != null) {
        b.append(" window ").append(d.getPose().getTrainingWindow());
      }
      if (d.getPose().getChunks() != null) {
        b.append(", ").append(d.getPose().getChunks()).append(" chunks");
      }
    }
    TrainingSettings t = d.getTraining();
    if (t != null) {
      b.append(String.format(Locale.ROOT, "; %d steps x %d samples, lr %s, %s, ZeRO %d", t.getSteps(),
          t.getGlobalBatchSize(), trim(t.getLearningRate()), t.getPrecision().toString().toLowerCase(Locale.ROOT),
          t.getZeroStage()));
    }
    if (d.getResources() != null) {
      int nodes = d.getResources().getNodes() == null ? 1 : d.getResources().getNodes();
      int gpus = d.getResources().getGpusPerNode() == null ? 0 : d.getResources().getGpusPerNode();
      b.append(String.format(Locale.ROOT, "; %s", gpus == 0 ? "CPU" : nodes + " x " + gpus + " GPUs"));
    }
    EvaluationSettings e = d.getEvaluation();
    List<String> evals = new ArrayList<>();
    if (e != null && e.getPasskey() != null) {
      evals.add("passkey at " + e.getPasskey().getLengths());
    }
    if (e != null && e.getPerplexity() != null) {
      evals.add("perplexity at " + e.getPerplexity().getLengths());
    }
    if (e != null && e.getBenchmarks() != null && !e.getBenchmarks().isEmpty()) {
      evals.add(e.getBenchmarks().size() + " benchmarks");
    }
    b.append("; eval: ").append(evals.isEmpty() ? "none" : String.join(", ", evals));
    b.append("; publish: ").append(d.getPublish() == null ? "none" : d.getPublish().getTarget());
    if (originalUnknown) {
      b.append(" (the rules that need the model's original context were not checked: pass "
          + "--original-context-length)");
    }
    return b.toString();
  }

  private static String trim(Double v) {
    if (v == null) {
      return "-";
    }
    return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString(v.longValue()) : String.format(Locale.ROOT, "%.3g", v)
        .replaceAll("\\.?0+(e|$)", "$1");
  }
}
