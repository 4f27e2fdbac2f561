package io.pose.trainer.publish;

import io.pose.trainer.storage.hub.GitBlob;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The files of a tree to publish and what the Hub asks of them: size, the first 512 bytes (the pre-upload sample),
 * sha256 (the LFS oid) and the git blob id, each computed streaming so that multi-GB files never sit in memory.
 */
final class HubFiles {

  /** The pre-upload sample: the Hub guesses text vs binary from the first 512 bytes. */
  static final int SAMPLE_BYTES = 512;
  private static final int BUFFER = 1 << 20;

  private HubFiles() {}

  /**
   * @param path the path in the repository ('/'-separated, relative)
   * @param file the local file
   */
  record LocalFile(String path, Path file, long size, byte[] sample) {}

  /** Every regular file under {@code tree}, sorted by repository path. */
  static List<LocalFile> scan(Path tree) throws IOException {
    if (!Files.isDirectory(tree)) {
      throw new IOException(tree + ": the tree to publish is not a directory");
    }
    try (Stream<Path> walk = Files.walk(tree)) {
      List<Path> files = walk.filter(Files::isRegularFile).toList();
      LocalFile[] out = new LocalFile[files.size()];
      for (int i = 0; i < out.length; i++) {
        Path f = files.get(i);
        String path = tree.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
        out[i] = new LocalFile(path, f, Files.size(f), sample(f));
      }
      Arrays.sort(out, (a, b) -> a.path().compareTo(b.path()));
      return List.of(out);
    }
  }

  private static byte[] sample(Path f) throws IOException {
    try (InputStream in = Files.newInputStream(f)) {
      return in.readNBytes(SAMPLE_BYTES);
    }
  }

  /** The sha256 of the file's bytes, hex: the LFS oid. */
  static String sha256(LocalFile f) throws IOException {
    try {
      return HexFormat.of().formatHex(digest(f, MessageDigest.getInstance("SHA-256")));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** The git blob id (what the Hub reports as blobId), hex. */
  static String gitBlobId(LocalFile f) throws IOException {
    return HexFormat.of().formatHex(digest(f, GitBlob.digest(f.size())));
  }

  private static byte[] digest(LocalFile f, MessageDigest md) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(BUFFER);
    long total = 0;
    try (FileChannel ch = FileChannel.open(f.file(), StandardOpenOption.READ)) {
      int n;
      while ((n = ch.read(buf)) != -1) {
        buf.flip();
        md.update(buf);
        buf.clear();
        total += n;
      }
    }
    if (total != f.size()) {
      throw new IOException(f.file() + ": changed while publishing (" + f.size() + " bytes when listed, " + total
          + " when hashed)");
    }
    return md.digest();
  }

  /**
   * {@code length} bytes of a file from {@code offset}, read with positional reads so that several slices share one
   * channel; closing the stream leaves the channel open.
   */
  static InputStream slice(FileChannel channel, long offset, long length) {
    return new InputStream() {
      private long position = offset;
      private final long end = offset + length;

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (position >= end) {
          return -1;
        }
        int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
        if (n == -1) {
          throw new IOException("file ended " + (end - position) + " bytes early: it changed while publishing");
        }
        position += n;
        return n;
      }
    };
  }
}
