package io.pose.trainer.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes safetensors files exactly as the safetensors library lays them out (compact JSON header with
 * __metadata__ first, tensors ordered as its Dtype enum descending and then by name, which keeps every tensor
 * aligned; the header padded with spaces to 8 bytes), atomically: the file is
 * written under a temporary name, forced to disk and renamed, so a crash never leaves half a file under the real
 * name.
 */
public final class SafetensorsWriter {
  private SafetensorsWriter() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void write(Path file, Collection<TensorData> tensors, Map<String, String> metadata) throws IOException {
    Map<String, TensorData> byName = new java.util.HashMap<>();
    List<Header> headers = new ArrayList<>();
    for (TensorData t : tensors) {
      headers.add(new Header(t.name(), t.dtype(), t.shape()));
      byName.put(t.name(), t);
    }
    write(file, headers, metadata, (header, out) -> out.write(byName.get(header.name()).data().duplicate().position(0)));
  }

  /** What a tensor of a file is: its bytes come later, from a {@link Content}. */
  public record Header(String name, DType dtype, long[] shape) {
    public long bytes() {
      long n = dtype.bytes();
      for (long d : shape) {
        n = Math.multiplyExact(n, d);
      }
      return n;
    }
  }

  /** Writes the bytes of the tensors one after another, in the order the file lays them out. */
  @FunctionalInterface
  public interface Content {
    /** Writes exactly header.bytes() little-endian bytes of this tensor. */
    void write(Header header, Sink out) throws IOException;
  }

  /** Where a tensor's bytes go; counts them. */
  public interface Sink {
    void write(ByteBuffer bytes) throws IOException;
  }

  /**
   * Writes a file whose tensors' bytes are produced one tensor at a time (never all in memory): shards of a model
   * larger than the heap, converted or re-sharded on the way. Same layout, same atomicity as the in-memory writer.
   */
  public static void write(Path file, List<Header> tensors, Map<String, String> metadata, Content content)
      throws IOException {
    List<Header> ordered = new ArrayList<>(tensors);
    Set<String> names = new HashSet<>();
    for (Header t : ordered) {
      if (!names.add(t.name())) {
        throw new IllegalArgumentException("tensor " + t.name() + " appears twice");
      }
      if (t.name().equals("__metadata__")) {
        throw new IllegalArgumentException("__metadata__ is not a tensor name");
      }
    }
    ordered.sort(Comparator.comparingInt((Header t) -> -t.dtype().layoutRank()).thenComparing(Header::name));

    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Header t : ordered) {
      ObjectNode entry = header.putObject(t.name());
      entry.put("dtype", t.dtype().name());
      ArrayNode shape = entry.putArray("shape");
      for (long d : t.shape()) {
        shape.add(d);
      }
      entry.putArray("data_offsets").add(offset).add(offset + t.bytes());
      offset += t.bytes();
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();

    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    // not createTempFile: its owner-only mode would stay on the file, which readers running as other users need
    Path temp = dir.resolve("." + file.getFileName() + "." + java.util.UUID.randomUUID() + ".partial");
    try {
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
        writeFully(out, head);
        for (Header t : ordered) {
          long[] written = {0};
          content.write(t, bytes -> {
            written[0] += bytes.remaining();
            writeFully(out, bytes);
          });
          if (written[0] != t.bytes()) {
            throw new IllegalStateException(t.name() + ": " + written[0] + " bytes written, its header says " + t.bytes());
          }
        }
        AtomicDirectory.fsync.force(out, temp);
      } catch (java.nio.file.FileSystemException e) {
        throw e;
      } catch (IOException e) {
        // the disk's reason (no space, quota, I/O error) with the file it was writing
        throw new java.nio.file.FileSystemException(file.toString(), null, e.getMessage());
      }
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      out.write(b);
    }
  }

  /** The header JSON text, for tests and tools. */
  static String headerText(byte[] file) {
    long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return new String(file, 8, (int) n, StandardCharsets.UTF_8);
  }
}
