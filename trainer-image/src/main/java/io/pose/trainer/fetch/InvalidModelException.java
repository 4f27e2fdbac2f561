package io.pose.trainer.fetch;

import java.io.IOException;

/** A fetched model the pipeline cannot use; the message names the file and the problem (exit 3, before any GPU time). */
public final class InvalidModelException extends IOException {
  public InvalidModelException(String message) {
    super(message);
  }
}
