package io.pose.trainer.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A credentials Secret as the stage pod sees it: {@code <secrets dir>/<secret name>/<key>}, one file per key
 * (docs/trainer-contract.md, "Secrets"). Values are never printed: {@link #toString()} names the keys only.
 */
public final class Credentials {

  private final String secret;
  private final Map<String, String> values;

  private Credentials(String secret, Map<String, String> values) {
    this.secret = secret;
    this.values = values;
  }

  /** No credentials (a public source, or a target that needs none). */
  public static Credentials none() {
    return new Credentials(null, Map.of());
  }

  /**
   * Reads the mounted Secret.
   *
   * @throws CredentialsException when the Secret's directory is missing (naming the field that named the Secret)
   */
  public static Credentials load(Path secretsDir, String secret, String field) throws IOException {
    if (secret == null) {
      return none();
    }
    Path dir = secretsDir.resolve(secret);
    if (!Files.isDirectory(dir)) {
      throw new CredentialsException(field + ": Secret \"" + secret + "\" is not mounted at " + dir);
    }
    Map<String, String> values = new TreeMap<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        // Kubernetes mounts keys as symlinks into a ..data directory; skip its bookkeeping entries
        if (name.startsWith("..") || Files.isDirectory(f)) {
          continue;
        }
        // keys are read as text; a binary key (a DER certificate, a keystore) is no credential the trainer uses
        byte[] bytes = Files.readAllBytes(f);
        try {
          values.put(name, StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString()
              .strip());
        } catch (java.nio.charset.CharacterCodingException e) {
          values.put(name, "");
        }
      }
    }
    return new Credentials(secret, values);
  }

  /** Credentials from values already at hand (tests, {@code pose run}). */
  public static Credentials of(String secret, Map<String, String> values) {
    return new Credentials(secret, new TreeMap<>(values));
  }

  public Optional<String> get(String key) {
    return Optional.ofNullable(values.get(key)).filter(v -> !v.isEmpty());
  }

  /** A key that must be there, or an error naming the Secret, the key and what it is for. */
  public String require(String key, String purpose) {
    return get(key).orElseThrow(() -> new CredentialsException(secret == null
        ? "no credentials Secret is set, and " + purpose + " needs one with the key \"" + key + "\""
        : "Secret \"" + secret + "\" has no key \"" + key + "\" (" + purpose + ")"));
  }

  public boolean isEmpty() {
    return values.isEmpty();
  }

  public String secret() {
    return secret;
  }

  @Override
  public String toString() {
    return secret == null ? "no credentials" : "Secret " + secret + " with keys " + values.keySet();
  }
}
