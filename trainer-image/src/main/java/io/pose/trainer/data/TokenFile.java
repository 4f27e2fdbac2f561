package io.pose.trainer.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Pre-tokenized documents in one binary file (spec.training.data.format: tokens), memory-mapped:
 * <pre>
 *   bytes 0-7    magic "POSETOKS"
 *   uint32       version (1)
 *   uint32       bytes per token (2 for vocabularies up to 65536, else 4)
 *   uint64       number of documents n
 *   uint64[n+1]  document offsets, in tokens (offset[0] = 0, offset[n] = total tokens)
 *   tokens       little-endian, unsigned
 * </pre>
 * A file that is not of this format, truncated, or whose offsets do not increase is refused with the reason.
 */
public final class TokenFile implements Documents {

  static final byte[] MAGIC = "POSETOKS".getBytes(StandardCharsets.US_ASCII);
  static final int VERSION = 1;
  private static final int HEADER = 8 + 4 + 4 + 8;

  private final Path path;
  private final FileChannel channel;
  private final int tokenBytes;
  private final long[] offsets;
  private final long tokensStart;

  private TokenFile(Path path, FileChannel channel, int tokenBytes, long[] offsets, long tokensStart) {
    this.path = path;
    this.channel = channel;
    this.tokenBytes = tokenBytes;
    this.offsets = offsets;
    this.tokensStart = tokensStart;
  }

  public static TokenFile open(Path path) throws IOException {
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path + ": no such file");
    }
    try {
      long size = channel.size();
      if (size < HEADER) {
        throw new DataException(path + ": " + size + " bytes is too short for a token file header");
      }
      ByteBuffer head = channel.map(FileChannel.MapMode.READ_ONLY, 0, HEADER).order(ByteOrder.LITTLE_ENDIAN);
      byte[] magic = new byte[8];
      head.get(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new DataException(path + ": not a pose token file (magic \"POSETOKS\" expected)");
      }
      int version = head.getInt();
      if (version != VERSION) {
        throw new DataException(path + ": token file version " + version + " is not supported (this reader: " + VERSION + ")");
      }
      int tokenBytes = head.getInt();
      if (tokenBytes != 2 && tokenBytes != 4) {
        throw new DataException(path + ": " + tokenBytes + " bytes per token; 2 or 4 expected");
      }
      long count = head.getLong();
      long offsetsEnd = HEADER + (count + 1) * 8;
      if (count < 0 || count > Integer.MAX_VALUE || offsetsEnd > size) {
        throw new DataException(path + ": truncated: " + count + " documents need " + offsetsEnd + " header bytes");
      }
      ByteBuffer table = channel.map(FileChannel.MapMode.READ_ONLY, HEADER, (count + 1) * 8).order(ByteOrder.LITTLE_ENDIAN);
      long[] offsets = new long[(int) count + 1];
      for (int i = 0; i <= count; i++) {
        offsets[i] = table.getLong();
        if (i == 0 ? offsets[0] != 0 : offsets[i] < offsets[i - 1]) {
          throw new DataException(path + ": document offsets must start at 0 and never decrease (offset " + i + ")");
        }
      }
      long expected = offsetsEnd + offsets[(int) count] * tokenBytes;
      if (expected != size) {
        throw new DataException(path + ": " + offsets[(int) count] + " tokens need " + expected + " bytes, the file has "
            + size + (size < expected ? " (truncated)" : ""));
      }
      return new TokenFile(path, channel, tokenBytes, offsets, offsetsEnd);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** Writes documents in this format, atomically (temporary file, then rename). */
  public static void write(Path path, List<int[]> documents, int vocabularySize) throws IOException {
    int tokenBytes = vocabularySize <= 65536 ? 2 : 4;
    long total = documents.stream().mapToLong(d -> d.length).sum();
    long size = HEADER + (documents.size() + 1L) * 8 + total * tokenBytes;
    ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(size)).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(VERSION).putInt(tokenBytes).putLong(documents.size());
    long offset = 0;
    b.putLong(0);
    for (int[] d : documents) {
      offset += d.length;
      b.putLong(offset);
    }
    for (int[] d : documents) {
      for (int t : d) {
        if (t < 0 || t >= vocabularySize) {
          throw new IllegalArgumentException("token " + t + " is outside the vocabulary of " + vocabularySize);
        }
        if (tokenBytes == 2) {
          b.putShort((short) t);
        } else {
          b.putInt(t);
        }
      }
    }
    Path dir = path.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    // not createTempFile: its owner-only mode would stay on the file, and the workspace is shared by stage pods
    Path temp = dir.resolve("." + path.getFileName() + "." + java.util.UUID.randomUUID() + ".partial");
    try {
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
        b.flip();
        while (b.hasRemaining()) {
          out.write(b);
        }
        out.force(true);
      }
      Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  @Override
  public int size() {
    return offsets.length - 1;
  }

  @Override
  public int length(int index) {
    return Math.toIntExact(offsets[index + 1] - offsets[index]);
  }

  @Override
  public int[] tokens(int index) throws IOException {
    int n = length(index);
    int[] out = new int[n];
    if (n == 0) {
      return out;
    }
    ByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, tokensStart + offsets[index] * tokenBytes,
        (long) n * tokenBytes).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      out[i] = tokenBytes == 2 ? b.getShort() & 0xFFFF : b.getInt();
    }
    return out;
  }

  @Override
  public String describe() {
    return path.toString();
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
