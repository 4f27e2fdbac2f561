package io.pose.trainer.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.pose.api.LocalPaths;
import io.pose.api.SpecIO;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.validation.SpecValidationException;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.progress.ProgressConfigMap;
import io.pose.trainer.stage.StageException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/** What the stage commands share: reading the config, failing with the contract's exit code, the progress ConfigMap. */
final class Commands {
  private Commands() {}

  /** A config that cannot be used, already reported. */
  static final class ConfigError extends Exception {
    final int exitCode;

    ConfigError(int exitCode) {
      super(null, null, false, false);
      this.exitCode = exitCode;
    }
  }

  static ContextExtension read(Path config, PrintWriter err) throws ConfigError {
    try {
      ContextExtension resource = SpecIO.read(config);
      LocalPaths.resolve(resource, config);
      return resource;
    } catch (NoSuchFileException e) {
      throw new ConfigError(fail(err, ExitCode.INVALID_CONFIGURATION, config + ": no such file"));
    } catch (SpecValidationException e) {
      throw new ConfigError(fail(err, ExitCode.INVALID_CONFIGURATION, config + ": " + e.getMessage()));
    } catch (IOException e) {
      throw new ConfigError(fail(err, ExitCode.INVALID_CONFIGURATION, config + ": cannot be read: " + e.getMessage()));
    }
  }

  static int fail(PrintWriter err, ExitCode code, String message) {
    err.println("error: " + message);
    err.println("(exit " + code.code() + ": " + code.reason() + ")");
    err.flush();
    return code.code();
  }

  /** A stage's work, returning its exit code. */
  @FunctionalInterface
  interface StageBody {
    int run() throws Exception;
  }

  /**
   * Runs a stage: a StageException exits with its contract code and message; anything else is explained in a line
   * or two by {@link Failures} (the stack trace only with --debug).
   *
   * @param resumable whether running the stage again continues where it stopped
   */
  static int guard(PrintWriter err, String stage, boolean resumable, StageBody body) {
    try {
      return body.run();
    } catch (StageException e) {
      return Failures.report(err, e, null, resumable);
    } catch (Exception e) {
      return Failures.report(err, e, stage, resumable);
    }
  }

  /** The stage's key of the progress ConfigMap, or null when no ConfigMap is named. */
  static ProgressConfigMap progressConfigMap(String name, String namespace, Stage stage, PrintWriter out) {
    if (name == null || name.isBlank()) {
      return null;
    }
    KubernetesClient client = new KubernetesClientBuilder().build();
    String ns = namespace != null && !namespace.isBlank() ? namespace : client.getNamespace();
    ProgressConfigMap map = new ProgressConfigMap(client, ns, name, stage, out, Duration.ofMillis(500));
    out.printf("progress: ConfigMap %s/%s, key %s%n", ns, name, map.key());
    return map;
  }
}
