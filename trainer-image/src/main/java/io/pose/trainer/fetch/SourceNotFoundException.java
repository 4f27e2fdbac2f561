package io.pose.trainer.fetch;

import java.io.IOException;

/** The repository, bucket, path or revision a source names does not exist: retrying cannot help (exit 3). */
public final class SourceNotFoundException extends IOException {
  public SourceNotFoundException(String message) {
    super(message);
  }
}
