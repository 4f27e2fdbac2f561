package io.pose.core.hf;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** The committed config.json fixtures (src/test/resources/hf-configs, see its README). */
final class Fixtures {
  private Fixtures() {}

  static String text(String name) {
    try (InputStream in = Fixtures.class.getResourceAsStream("/hf-configs/" + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static ModelConfig config(String name) {
    return HfConfigs.parse(text(name), name);
  }
}
