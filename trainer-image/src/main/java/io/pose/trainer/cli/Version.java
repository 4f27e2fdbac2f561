package io.pose.trainer.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** The version Maven stamped into the jar's version.properties. */
final class Version implements IVersionProvider {
  @Override
  public String[] getVersion() throws IOException {
    Properties p = new Properties();
    try (InputStream in = Version.class.getResourceAsStream("/io/pose/trainer/version.properties")) {
      if (in != null) {
        p.load(in);
      }
    }
    return new String[] {"pose " + p.getProperty("version", "(development build)"),
        "DJL " + p.getProperty("djl.version", "?") + ", PyTorch " + p.getProperty("pytorch.version", "?")};
  }
}
