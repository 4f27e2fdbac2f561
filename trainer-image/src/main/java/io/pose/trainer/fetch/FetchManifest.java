package io.pose.trainer.fetch;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * What a fetched tree came from: {@value #FILE_NAME} in the tree (written last, so a tree with a manifest is
 * complete): the source URI, its resolved revision, when, and every file with its size, SHA-256 and the source's
 * own tag (ETag, blob id). Train, Evaluate and the model card read it.
 */
public record FetchManifest(String source, String revision, String fetchedAt, List<File> files) {

  public static final String FILE_NAME = ".pose-fetch.json";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** One fetched file. */
  public record File(String path, long size, String sha256, String etag) {}

  public void write(Path directory) throws IOException {
    Path tmp = directory.resolve(FILE_NAME + ".tmp");
    JSON.writeValue(tmp.toFile(), this);
    Files.move(tmp, directory.resolve(FILE_NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The manifest of a directory, if it has a readable one. */
  public static Optional<FetchManifest> read(Path directory) {
    Path file = directory.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(file.toFile(), FetchManifest.class));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
