package io.pose.trainer.dist;

/**
 * A collective that could not complete: a peer failed, died, did not arrive within the timeout, or called another
 * operation. The message names the rank. A restart of the run (from its last checkpoint) may succeed.
 */
public final class CollectiveException extends RuntimeException {
  public CollectiveException(String message) {
    super(message);
  }

  public CollectiveException(String message, Throwable cause) {
    super(message, cause);
  }
}
