package io.pose.trainer.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The trainer's executable: {@code pose <stage> --config <file>} as the trainer contract starts it in a stage pod.
 * Exit codes are the contract's (TrainerContract.ExitCode): 0 done, 1 runtime failure (a restart may help),
 * 2 invalid configuration, 3 missing or unreadable input.
 */
@Command(name = "pose", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Extends the context window of RoPE language models with PoSE (Positional Skip-wisE training).",
    subcommands = {RunCommand.class, ValidateCommand.class, FetchCommand.class, TrainCommand.class, EvalCommand.class, PublishCommand.class,
        PlanCommand.class, CommandLine.HelpCommand.class})
public final class Pose {

  @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
      description = "Print the stack trace of a failure (otherwise one or two lines say what failed and why).")
  void debug(boolean on) {
    Failures.debug = on;
  }

  public static void main(String[] args) {
    configureLogging();
    System.exit(execute(args));
  }

  /**
   * Logging, configured once per process: one line per record on stderr, DJL's start-up notes left out (see
   * logging.properties). A {@code -Djava.util.logging.config.file} (or class) of the user's wins.
   */
  static void configureLogging() {
    if (System.getProperty("java.util.logging.config.file") != null
        || System.getProperty("java.util.logging.config.class") != null) {
      return;
    }
    try (java.io.InputStream in = Pose.class.getResourceAsStream("/io/pose/trainer/logging.properties")) {
      java.util.logging.LogManager.getLogManager().readConfiguration(in);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("logging.properties is unreadable", e);
    }
  }

  /** Runs the command line and returns its exit code. */
  public static int execute(String... args) {
    return execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
  }

  /** Runs the command line with the given output and error streams (the tests call this). */
  public static int execute(PrintWriter out, PrintWriter err, String... args) {
    // libtorch comes from the natives jar on the class path; never download anything, never phone home
    setIfAbsent("ai.djl.offline", "true");
    setIfAbsent("OPT_OUT_TRACKING", "true");
    Failures.debug = false; // until --debug says otherwise, for this command line only
    return commandLine().setOut(out).setErr(err).execute(args);
  }

  static CommandLine commandLine() {
    return new CommandLine(new Pose()).setCaseInsensitiveEnumValuesAllowed(true);
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
