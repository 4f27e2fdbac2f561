package io.pose.trainer.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/** The committed tiny models as complete model directories (the tiny Llama's tokenizer serves all: vocab 128). */
final class TinyModels {
  private TinyModels() {}

  static final Path MODELS = Path.of("src/test/resources/tiny-models");

  /** A copy of the tiny model {@code name} under dir, with a tokenizer.json. */
  static Path directory(String name, Path dir) throws IOException {
    Path target = dir.resolve(name);
    Files.createDirectories(target);
    try (Stream<Path> files = Files.list(MODELS.resolve(name))) {
      for (Path f : files.filter(p -> !p.getFileName().toString().startsWith("reference")).toList()) {
        Files.copy(f, target.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    if (!Files.exists(target.resolve("tokenizer.json"))) {
      Files.copy(MODELS.resolve("llama/tokenizer.json"), target.resolve("tokenizer.json"));
    }
    return target;
  }
}
