package io.pose.trainer.publish;

import io.pose.trainer.io.AtomicDirectory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * file:///path and pvc://claim/path: the tree is copied into a staging directory next to the destination, every
 * copy is checked against its source (size and SHA-256), and the staging directory is renamed into place
 * ({@link AtomicDirectory}): readers see the previous publish or the new one, never part of one. The revision is
 * the SHA-256 of the sorted list of (path, size, SHA-256).
 */
public final class DirectoryTarget implements PublishTarget {

  private final Path destination;
  private final String uri;

  /**
   * @param destination the directory the tree becomes
   * @param uri how the destination is named to users (file:// or pvc://)
   */
  public DirectoryTarget(Path destination, String uri) {
    this.destination = destination;
    this.uri = uri;
  }

  @Override
  public Published publish(Path tree, String message) throws IOException {
    List<Path> files = files(tree);
    StringBuilder listing = new StringBuilder();
    AtomicDirectory.write(destination, staging -> {
      for (Path file : files) {
        Path relative = tree.relativize(file);
        Path copy = staging.resolve(relative.toString());
        Files.createDirectories(copy.getParent());
        Files.copy(file, copy);
        String expected = sha256(file);
        long size = Files.size(file);
        if (Files.size(copy) != size || !sha256(copy).equals(expected)) {
          throw new IOException(copy + ": the copy differs from " + file + " (size or SHA-256)");
        }
        listing.append(relative.toString().replace('\\', '/')).append(' ').append(size).append(' ').append(expected)
            .append('\n');
      }
    });
    return new Published(uri, "sha256:" + sha256(listing.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  /** Every regular file under the tree, in path order. */
  static List<Path> files(Path tree) throws IOException {
    try (Stream<Path> walk = Files.walk(tree)) {
      return walk.filter(Files::isRegularFile).sorted().toList();
    }
  }

  static String sha256(Path file) throws IOException {
    MessageDigest digest = sha256();
    byte[] buffer = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buffer)) > 0) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  static String sha256(byte[] bytes) {
    return HexFormat.of().formatHex(sha256().digest(bytes));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
