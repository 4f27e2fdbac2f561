package io.pose.trainer.stage;

import io.pose.api.contract.TrainerContract.ExitCode;

/** A stage failure with the exit code the trainer contract gives it (the Job's podFailurePolicy acts on it). */
public class StageException extends Exception {
  private final ExitCode exitCode;

  public StageException(ExitCode exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  public StageException(ExitCode exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  public ExitCode exitCode() {
    return exitCode;
  }
}
