package io.pose.trainer.io;

/** A checkpoint file or directory that cannot be read as what it claims to be; the message names the file and rule. */
public class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
