package io.pose.trainer.io;

import java.io.File;

/** The file descriptors this process holds (Linux): what a test of "closes what it opens" counts. */
public final class OpenFiles {
  private OpenFiles() {}

  /** Descriptors open now, or -1 where /proc/self/fd cannot be read. */
  public static int count() {
    String[] fds = new File("/proc/self/fd").list();
    return fds == null ? -1 : fds.length;
  }
}
