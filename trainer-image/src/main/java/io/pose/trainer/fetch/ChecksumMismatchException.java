package io.pose.trainer.fetch;

import java.io.IOException;

/** A downloaded file whose size or checksum is not the one the source listed; its partial file was deleted. */
public final class ChecksumMismatchException extends IOException {
  public ChecksumMismatchException(String message) {
    super(message);
  }
}
