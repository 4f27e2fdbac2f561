package io.pose.trainer.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tensors stored as pieces spread over several safetensors files, one file per rank of a sharded run: a piece is a
 * contiguous range [offset, offset + n) of a tensor's flattened elements, stored as a 1-d tensor of the same name;
 * each file's metadata ({@value #PIECES_KEY}) gives every piece's offset and its whole tensor's shape. Any set of
 * ranks can read any elements of any tensor, so a run resumes at another world size or ZeRO stage. Opening checks
 * that the pieces of each tensor cover it exactly once; a missing, truncated or corrupt file is an error naming it.
 */
public final class ShardedTensors implements TensorSource, AutoCloseable {

  /** The metadata key of the piece table. */
  public static final String PIECES_KEY = "pose.pieces";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A piece: elements [offset, offset + count) of the tensor called name, whose shape is shape. */
  public record Piece(String name, long[] shape, long offset, long count) {
    public Piece {
      long numel = numel(shape);
      if (offset < 0 || count <= 0 || offset + count > numel) {
        throw new IllegalArgumentException(name + ": piece [" + offset + ", " + (offset + count) + ") of "
            + numel + " elements");
      }
    }
  }

  /** Produces a piece's fp32 values, a range at a time. */
  @FunctionalInterface
  public interface Values {
    /** Values [from, from + count) of the piece. */
    float[] of(Piece piece, long from, int count) throws IOException;
  }

  /** Values produced at a time (16 MiB of fp32). */
  static final int CHUNK = 1 << 22;

  /** Writes pieces (fp32) into one file, atomically; the values are produced one piece at a time. */
  public static void write(Path file, List<Piece> pieces, Map<String, String> metadata, Values values)
      throws IOException {
    write(file, pieces, metadata, values, CHUNK);
  }

  /** {@link #write(Path, List, Map, Values)}, producing at most chunk values at a time. */
  static void write(Path file, List<Piece> pieces, Map<String, String> metadata, Values values, int chunk)
      throws IOException {
    ObjectNode table = JSON.createObjectNode();
    List<SafetensorsWriter.Header> headers = new ArrayList<>();
    Map<String, Piece> byName = new LinkedHashMap<>();
    for (Piece p : pieces) {
      if (byName.put(p.name(), p) != null) {
        throw new IllegalArgumentException(file + ": two pieces of " + p.name());
      }
      ObjectNode entry = table.putObject(p.name());
      entry.put("offset", p.offset());
      ArrayNode shape = entry.putArray("shape");
      for (long d : p.shape()) {
        shape.add(d);
      }
      headers.add(new SafetensorsWriter.Header(p.name(), DType.F32, new long[] {p.count()}));
    }
    Map<String, String> meta = new LinkedHashMap<>(metadata);
    meta.put(PIECES_KEY, JSON.writeValueAsString(table));
    SafetensorsWriter.write(file, headers, meta, (header, out) -> {
      Piece p = byName.get(header.name());
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) Math.min(chunk, p.count()) * 4)
          .order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (long done = 0; done < p.count(); ) {
        int n = (int) Math.min(chunk, p.count() - done);
        float[] v = values.of(p, done, n);
        if (v.length != n) {
          throw new IllegalStateException(p.name() + ": " + v.length + " values for " + n + " of a piece");
        }
        b.clear();
        b.asFloatBuffer().put(v);
        b.limit(n * 4);
        out.write(b);
        done += n;
      }
    });
  }

  private record Stored(SafetensorsFile file, long offset, long count) {}

  private final List<SafetensorsFile> files;
  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private final Map<String, List<Stored>> pieces = new LinkedHashMap<>();
  private final String description;

  private ShardedTensors(List<SafetensorsFile> files, String description) {
    this.files = files;
    this.description = description;
  }

  /**
   * Opens the files and checks their pieces: each tensor's pieces must agree on its shape and cover its elements
   * exactly once.
   */
  public static ShardedTensors open(List<Path> paths, String description) throws IOException {
    List<SafetensorsFile> opened = new ArrayList<>();
    try {
      for (Path p : paths) {
        if (!java.nio.file.Files.isRegularFile(p)) {
          throw new CheckpointException(p + ": the shard is missing (a rank did not write it, or it was deleted)");
        }
        opened.add(SafetensorsFile.open(p));
      }
      ShardedTensors t = new ShardedTensors(opened, description);
      for (SafetensorsFile f : opened) {
        t.index(f);
      }
      t.checkCoverage();
      return t;
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile f : opened) {
        f.close();
      }
      throw e;
    }
  }

  private void index(SafetensorsFile f) {
    String text = f.metadata().get(PIECES_KEY);
    if (text == null) {
      throw new CheckpointException(f.path() + ": no " + PIECES_KEY + " metadata: not a shard of a sharded checkpoint");
    }
    JsonNode table;
    try {
      table = JSON.readTree(text);
    } catch (IOException e) {
      throw new CheckpointException(f.path() + ": the " + PIECES_KEY + " metadata is not valid JSON", e);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = table.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      TensorInfo info = f.tensors().get(name);
      if (info == null) {
        throw new CheckpointException(f.path() + ": the piece table lists " + name + ", the file does not hold it");
      }
      JsonNode s = e.getValue().get("shape");
      long[] shape = new long[s == null ? 0 : s.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = s.get(i).asLong();
      }
      long[] known = shapes.putIfAbsent(name, shape);
      if (known != null && !Arrays.equals(known, shape)) {
        throw new CheckpointException(f.path() + ": " + name + " has shape " + Arrays.toString(shape)
            + " here, " + Arrays.toString(known) + " in another shard");
      }
      if (info.shape().length != 1 || info.dtype() != DType.F32) {
        throw new CheckpointException(f.path() + ": piece " + name + " is " + info.dtype() + Arrays.toString(info.shape())
            + ", expected a 1-d F32 piece");
      }
      pieces.computeIfAbsent(name, k -> new ArrayList<>())
          .add(new Stored(f, e.getValue().path("offset").asLong(-1), info.shape()[0]));
    }
    for (String name : f.tensors().keySet()) {
      if (!table.has(name)) {
        throw new CheckpointException(f.path() + ": tensor " + name + " is not in the piece table");
      }
    }
  }

  private void checkCoverage() {
    for (Map.Entry<String, List<Stored>> e : pieces.entrySet()) {
      List<Stored> list = e.getValue();
      list.sort(Comparator.comparingLong(Stored::offset));
      long numel = numel(shapes.get(e.getKey()));
      long next = 0;
      for (Stored s : list) {
        if (s.offset() != next) {
          throw new CheckpointException(s.file().path() + ": " + e.getKey() + (s.offset() < next
              ? " overlaps another shard at element " + s.offset()
              : " is missing elements [" + next + ", " + s.offset() + ") (is a shard missing?)"));
        }
        next += s.count();
      }
      if (next != numel) {
        throw new CheckpointException(description + ": " + e.getKey() + " is missing elements [" + next + ", "
            + numel + ") (is a shard missing?)");
      }
    }
  }

  /** Every tensor, with its shape. */
  public Map<String, long[]> tensors() {
    return shapes;
  }

  @Override
  public boolean has(String name) {
    return shapes.containsKey(name);
  }

  @Override
  public long[] shape(String name) {
    long[] s = shapes.get(name);
    if (s == null) {
      throw new CheckpointException(description + ": no tensor " + name);
    }
    return s.clone();
  }

  @Override
  public float[] floats(String name, long begin, int count) throws IOException {
    List<Stored> list = pieces.get(name);
    if (list == null) {
      throw new CheckpointException(description + ": no tensor " + name);
    }
    float[] out = new float[count];
    long end = begin + count;
    for (Stored s : list) {
      long from = Math.max(begin, s.offset());
      long to = Math.min(end, s.offset() + s.count());
      if (from < to) {
        float[] part = s.file().floats(name, from - s.offset(), Math.toIntExact(to - from));
        System.arraycopy(part, 0, out, Math.toIntExact(from - begin), part.length);
      }
    }
    return out;
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public void close() throws IOException {
    for (SafetensorsFile f : files) {
      f.close();
    }
  }

  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }
}
