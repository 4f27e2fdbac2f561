package io.pose.trainer.cli;

import io.pose.api.contract.TrainerContract.ExitCode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * What a user reads when the environment fails: one or two lines naming what failed (the file, the host), why (the
 * operating system's or the network's reason) and what to do, with the exit code of docs/trainer-contract.md. The
 * stack trace only with {@code --debug}.
 */
final class Failures {
  private Failures() {}

  /** A failure explained: the exit code and the lines to print after "error: ". */
  record Explained(ExitCode code, String what, String todo) {}

  /** Set by {@code pose --debug}: failures also print their stack traces. */
  static volatile boolean debug;

  /**
   * Explains a failure of a stage.
   *
   * @param stage the stage that failed ("fetch", "train", ...)
   * @param resumable whether running the same command again continues where this one stopped
   */
  static Explained explain(Throwable failure, String stage, boolean resumable) {
    Explained e = environment(failure, resumable);
    if (e != null) {
      return e;
    }
    Throwable t = failure instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : failure;
    String context = message(t);
    return new Explained(ExitCode.RUNTIME_FAILURE, "the " + stage + " stage failed: " + t.getClass().getSimpleName()
        + (context.isEmpty() ? "" : ": " + context),
        (resumable ? "running again resumes; " : "") + "run with --debug for the stack trace");
  }

  /** The explanation of a failure of the environment (files, disks, network), or null when it is none of those. */
  static Explained environment(Throwable failure, boolean resumable) {
    Throwable t = failure instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : failure;
    String context = message(t);
    FileSystemException fs = find(t, FileSystemException.class, e -> true);
    if (fs != null && (fs instanceof AccessDeniedException || reason(fs).contains("permission denied"))) {
      return new Explained(ExitCode.MISSING_INPUT, file(fs) + ": permission denied",
          "make it writable for user " + System.getProperty("user.name") + ", or choose another --workspace");
    }
    if (fs != null && reason(fs).contains("read-only file system")) {
      return new Explained(ExitCode.MISSING_INPUT, file(fs) + ": read-only file system",
          "choose a writable --workspace (nothing was written there)");
    }
    IOException full = find(t, IOException.class, e -> lower(e.getMessage()).contains("no space left on device")
        || lower(e.getMessage()).contains("disk quota exceeded"));
    if (full != null) {
      String where = fs != null ? file(fs) : null;
      return new Explained(ExitCode.RUNTIME_FAILURE, "no space left on device" + (where == null ? ""
          : " writing " + where + free(where)) + (context.isEmpty() || context.equals(message(full)) ? ""
              : " (" + context + ")"),
          "free space or choose another --workspace, then run again" + (resumable ? ": it resumes" : ""));
    }
    UnknownHostException unknown = find(t, UnknownHostException.class, e -> true);
    if (unknown != null) {
      return new Explained(ExitCode.RUNTIME_FAILURE, "cannot resolve host " + unknown.getMessage()
          + ": no network or no DNS" + (context.contains(String.valueOf(unknown.getMessage())) ? ""
              : " (" + context + ")"),
          "check the network; behind a proxy set HTTPS_PROXY; offline, use file:// sources");
    }
    IOException network = find(t, IOException.class, e -> e instanceof ConnectException
        || e instanceof NoRouteToHostException || e instanceof HttpConnectTimeoutException
        || e instanceof SocketTimeoutException || e instanceof HttpTimeoutException);
    if (network != null) {
      String why = network instanceof ConnectException ? "connection refused"
          : network instanceof NoRouteToHostException ? "no route to host" : "timed out";
      return new Explained(ExitCode.RUNTIME_FAILURE, why + ": " + context,
          "check the network, the endpoint and any proxy (HTTPS_PROXY), then run again"
              + (resumable ? ": it resumes" : ""));
    }
    if (fs != null) {
      return new Explained(ExitCode.RUNTIME_FAILURE, file(fs) + ": " + (fs.getReason() == null ? context
          : fs.getReason()), resumable ? "run again to resume" : "run again");
    }
    return null;
  }

  /**
   * A stage's own failure: when its exit code is a runtime failure caused by the environment, the environment's
   * explanation; otherwise its message as it is.
   */
  static int report(PrintWriter err, io.pose.trainer.stage.StageException e, String stage, boolean resumable) {
    Explained env = e.exitCode() == ExitCode.RUNTIME_FAILURE && e.getCause() != null
        ? environment(e.getCause(), resumable) : null;
    if (env == null) {
      if (debug) {
        e.printStackTrace(err);
      }
      return Commands.fail(err, e.exitCode(), (stage == null ? "" : stage + ": ") + e.getMessage());
    }
    return report(err, e.getCause(), stage, resumable);
  }

  /** Prints the explanation (and the stack trace under --debug) and returns the exit code. */
  static int report(PrintWriter err, Throwable failure, String stage, boolean resumable) {
    Explained e = explain(failure, stage, resumable);
    err.println("error: " + e.what());
    err.println("  " + e.todo() + " (exit " + e.code().code() + ": " + e.code().reason() + ")");
    if (debug) {
      failure.printStackTrace(err);
    }
    err.flush();
    return e.code().code();
  }

  private static <T extends Throwable> T find(Throwable t, Class<T> type, Predicate<T> test) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (type.isInstance(c) && test.test(type.cast(c))) {
        return type.cast(c);
      }
      for (Throwable s : c.getSuppressed()) {
        if (type.isInstance(s) && test.test(type.cast(s))) {
          return type.cast(s);
        }
      }
    }
    return null;
  }

  private static String message(Throwable t) {
    return t.getMessage() == null ? "" : t.getMessage().lines().findFirst().orElse("").strip();
  }

  private static String lower(String s) {
    return s == null ? "" : s.toLowerCase(Locale.ROOT);
  }

  private static String reason(FileSystemException e) {
    return lower(e.getReason()) + " " + lower(e.getMessage());
  }

  private static String file(FileSystemException e) {
    return e.getFile() != null ? e.getFile() : message(e);
  }

  /** ", N MiB free" for the file system holding the path, where it can be measured. */
  private static String free(String where) {
    try {
      Path p = FileSystems.getDefault().getPath(where).toAbsolutePath();
      while (p != null && !Files.exists(p)) {
        p = p.getParent();
      }
      return p == null ? "" : String.format(Locale.ROOT, " (%d MiB free)", Files.getFileStore(p).getUsableSpace() >> 20);
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
