package io.pose.trainer.fetch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * file:///path and pvc://claim/path: a local file or directory (a claim mounted into the Fetch pod). The files are
 * copied into the workspace, because the later stages' pods do not mount other claims. The revision is a digest of
 * the sorted (path, size, modification time) listing: the same files give the same revision, a changed file a new
 * one. Hidden files (names starting with '.') are left out.
 */
public final class DirectorySource implements Source {

  private final Path root;
  private final String uri;

  /**
   * @param root the file or directory
   * @param uri how it is named to users, for messages
   */
  public DirectorySource(Path root, String uri) {
    this.root = root.toAbsolutePath().normalize();
    this.uri = uri;
  }

  @Override
  public Listing list() throws IOException {
    if (!Files.exists(root)) {
      throw new SourceNotFoundException(uri + ": " + root + " does not exist");
    }
    List<Entry> entries = new ArrayList<>();
    if (Files.isRegularFile(root)) {
      entries.add(entry(root.getFileName().toString(), root));
    } else {
      try (Stream<Path> walk = Files.walk(root)) {
        for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
          String relative = root.relativize(p).toString().replace('\\', '/');
          if (relative.startsWith(".") || relative.contains("/.")) {
            continue;
          }
          entries.add(entry(relative, p));
        }
      }
    }
    if (entries.isEmpty()) {
      throw new SourceNotFoundException(uri + ": " + root + " holds no files");
    }
    MessageDigest digest = sha256();
    for (Entry e : entries) {
      digest.update((e.path() + "\0" + e.size() + "\0" + e.etag() + "\n").getBytes(StandardCharsets.UTF_8));
    }
    return new Listing("sha256:" + HexFormat.of().formatHex(digest.digest()), entries);
  }

  private static Entry entry(String relative, Path p) throws IOException {
    return new Entry(relative, Files.size(p), null, Long.toString(Files.getLastModifiedTime(p).toMillis()));
  }

  @Override
  public void download(Entry entry, Path partial) throws IOException {
    Path file = Files.isRegularFile(root) ? root : root.resolve(entry.path());
    if (Files.size(file) != entry.size()
        || !Long.toString(Files.getLastModifiedTime(file).toMillis()).equals(entry.etag())) {
      throw new IOException(uri + ": " + entry.path() + " changed while it was fetched; fetch again");
    }
    Files.createDirectories(partial.getParent());
    try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        InputStream in = Files.newInputStream(file)) {
      long have = out.size();
      if (have > entry.size()) {
        out.truncate(0);
        have = 0;
      }
      in.skipNBytes(have);
      out.position(have);
      byte[] buffer = new byte[1 << 20];
      int n;
      while ((n = in.read(buffer)) > 0) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buffer, 0, n);
        while (b.hasRemaining()) { // a write may take fewer bytes than offered
          try {
            out.write(b);
          } catch (IOException e) {
            // the disk, not the source: name the file written (no space, quota, I/O error)
            throw new java.nio.file.FileSystemException(partial.toString(), null, e.getMessage());
          }
        }
      }
    }
    long written = Files.size(partial);
    if (written != entry.size()) {
      Files.deleteIfExists(partial);
      throw new ChecksumMismatchException(uri + ": " + entry.path() + " gave " + written + " bytes, " + entry.size()
          + " were listed");
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
