package io.pose.trainer.publish;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.util.List;

/**
 * {@code <prefix>/pose-manifest.json}: the commit record of an S3 publish ({@link S3Target}). Readers trust only
 * the files it lists, with these sizes and SHA-256 digests; a prefix without it holds no complete publish.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}; readers ignore unknown fields, so adding one needs no new version
 * @param publishId the publish that wrote it (also the name of its staging folder while it ran)
 * @param message what the publish is
 * @param publishedAt when the manifest was written (ISO-8601, UTC)
 * @param files every published file, sorted by path
 */
public record S3Manifest(int schemaVersion, String publishId, String message, String publishedAt,
    List<Entry> files) {

  public static final int SCHEMA_VERSION = 1;
  /** The manifest's name under the prefix. */
  public static final String NAME = "pose-manifest.json";

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /**
   * @param path the file's path relative to the prefix, '/'-separated (its key is {@code <prefix>/<path>})
   * @param size its length in bytes
   * @param sha256 the SHA-256 of its bytes, lower-case hex
   */
  public record Entry(String path, long size, String sha256) {}

  public byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(this);
    } catch (IOException e) {
      throw new IllegalStateException("a manifest always serializes", e);
    }
  }

  /** @param source where the bytes come from, named in the error */
  public static S3Manifest parse(byte[] json, String source) throws IOException {
    S3Manifest manifest;
    try {
      manifest = JSON.readValue(json, S3Manifest.class);
    } catch (IOException e) {
      throw new IOException(source + ": not a pose manifest: " + e.getMessage(), e);
    }
    if (manifest.files() == null) {
      throw new IOException(source + ": not a pose manifest: it has no \"files\"");
    }
    return manifest;
  }

  static ObjectMapper json() {
    return JSON;
  }
}
