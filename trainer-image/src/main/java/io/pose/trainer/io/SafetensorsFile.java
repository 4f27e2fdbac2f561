package io.pose.trainer.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, read through memory mapping: the header is parsed and validated when the file is opened,
 * tensor data is mapped on demand, so files of any size (shards over 2 GiB included) cost no heap. Every
 * inconsistency the format forbids (truncation, overlapping or gapped offsets, sizes that do not match shapes,
 * unknown dtypes, a malformed header) is an error naming the file and the tensor.
 */
public final class SafetensorsFile implements AutoCloseable {

  /** The safetensors library's limit on the header size. */
  static final long MAX_HEADER_BYTES = 100_000_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates a file. */
  public static SafetensorsFile open(Path path) throws IOException {
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path + ": no such file");
    }
    try {
      long size = channel.size();
      if (size < 8) {
        throw new CheckpointException(path + ": truncated: " + size + " bytes, a safetensors file starts with an 8-byte "
            + "header length");
      }
      ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel::read, lengthBytes, 0);
      long headerLength = lengthBytes.flip().getLong();
      if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES) {
        throw new CheckpointException(path + ": header length " + headerLength + " is not in [1, " + MAX_HEADER_BYTES
            + "]: not a safetensors file");
      }
      if (8 + headerLength > size) {
        throw new CheckpointException(path + ": truncated: the header needs " + headerLength + " bytes, the file has "
            + (size - 8) + " after the length");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLength);
      readFully(channel::read, header, 8);
      long dataStart = 8 + headerLength;
      long dataLength = size - dataStart;
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> tensors = parseHeader(path, new String(header.array(), StandardCharsets.UTF_8), dataLength,
          metadata);
      return new SafetensorsFile(path, channel, dataStart, tensors, Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static Map<String, TensorInfo> parseHeader(Path path, String text, long dataLength, Map<String, String> metadata) {
    JsonNode root;
    try {
      root = JSON.readTree(text.stripTrailing());
    } catch (JsonProcessingException e) {
      throw new CheckpointException(path + ": the header is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new CheckpointException(path + ": the header is not a JSON object");
    }
    List<TensorInfo> list = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      JsonNode entry = e.getValue();
      if (name.equals("__metadata__")) {
        if (!entry.isObject()) {
          throw new CheckpointException(path + ": __metadata__ must be an object of strings");
        }
        entry.fields().forEachRemaining(m -> {
          if (!m.getValue().isTextual()) {
            throw new CheckpointException(path + ": __metadata__." + m.getKey() + " must be a string");
          }
          metadata.put(m.getKey(), m.getValue().asText());
        });
        continue;
      }
      list.add(tensor(path, name, entry));
    }
    // offsets must tile the data section exactly: sorted by start, contiguous from 0 to its end
    list.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    long expected = 0;
    for (TensorInfo t : list) {
      if (t.begin() != expected) {
        throw new CheckpointException(path + ": tensor " + t.name() + " starts at byte " + t.begin() + " of the data, "
            + (t.begin() < expected ? "overlapping the previous tensor" : "leaving a gap after byte " + expected));
      }
      expected = t.end();
    }
    if (expected != dataLength) {
      throw new CheckpointException(path + ": the tensors cover " + expected + " bytes of data, the file holds "
          + dataLength + (expected > dataLength ? " (truncated)" : " (trailing bytes)"));
    }
    Map<String, TensorInfo> byName = new LinkedHashMap<>();
    list.stream().sorted(Comparator.comparing(TensorInfo::name)).forEach(t -> byName.put(t.name(), t));
    return Collections.unmodifiableMap(byName);
  }

  private static TensorInfo tensor(Path path, String name, JsonNode entry) {
    String where = path + ": tensor " + name;
    if (!entry.isObject()) {
      throw new CheckpointException(where + ": entry must be an object with dtype, shape and data_offsets");
    }
    String dtypeName = entry.path("dtype").asText(null);
    DType dtype = DType.fromHeader(dtypeName).orElseThrow(() -> new CheckpointException(where + ": dtype \"" + dtypeName
        + "\" is not supported"));
    JsonNode shapeNode = entry.get("shape");
    JsonNode offsets = entry.get("data_offsets");
    if (shapeNode == null || !shapeNode.isArray()) {
      throw new CheckpointException(where + ": shape must be a list of integers");
    }
    if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).canConvertToLong()
        || !offsets.get(1).canConvertToLong()) {
      throw new CheckpointException(where + ": data_offsets must be [begin, end]");
    }
    long[] shape = new long[shapeNode.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = shapeNode.get(i);
      if (!d.canConvertToLong() || d.asLong() < 0) {
        throw new CheckpointException(where + ": shape[" + i + "] " + d + " is not a non-negative integer");
      }
      shape[i] = d.asLong();
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    if (begin < 0 || end < begin) {
      throw new CheckpointException(where + ": data_offsets [" + begin + ", " + end + "] are not an interval");
    }
    TensorInfo info = new TensorInfo(name, dtype, shape, begin, end);
    long needed;
    try {
      needed = Math.multiplyExact(info.elements(), dtype.bytes());
    } catch (ArithmeticException e) {
      throw new CheckpointException(where + ": shape " + java.util.Arrays.toString(shape) + " overflows");
    }
    if (needed != end - begin) {
      throw new CheckpointException(where + ": " + dtype + java.util.Arrays.toString(shape) + " needs " + needed
          + " bytes, data_offsets give " + (end - begin));
    }
    return info;
  }

  public Path path() {
    return path;
  }

  /** Tensors by name (sorted). */
  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public TensorInfo info(String name) {
    TensorInfo t = tensors.get(name);
    if (t == null) {
      throw new CheckpointException(path + ": no tensor " + name);
    }
    return t;
  }

  /**
   * The tensor's raw little-endian bytes, memory-mapped (read-only, valid while the file is open). A tensor of
   * more than 2 GiB cannot be one buffer; read it with {@link #rawRange}.
   */
  public ByteBuffer raw(String name) throws IOException {
    TensorInfo t = info(name);
    if (t.bytes() > Integer.MAX_VALUE) {
      throw new CheckpointException(path + ": tensor " + name + " has " + t.bytes()
          + " bytes, more than one buffer holds (2 GiB); read it in ranges");
    }
    return rawRange(name, 0, t.bytes());
  }

  /** A range of the tensor's bytes, memory-mapped. */
  public ByteBuffer rawRange(String name, long offset, long length) throws IOException {
    TensorInfo t = info(name);
    if (offset < 0 || length < 0 || offset + length > t.bytes() || length > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("range [" + offset + ", " + (offset + length) + ") is outside " + name);
    }
    if (length == 0) {
      return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
    }
    return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin() + offset, length)
        .order(ByteOrder.LITTLE_ENDIAN);
  }

  /** A floating-point tensor widened to fp32 (F32, F16 and BF16 exactly; F64 rounded). */
  public float[] floats(String name) throws IOException {
    return floats(name, 0, Math.toIntExact(info(name).elements()));
  }

  /**
   * Elements [begin, begin + count) of a floating-point tensor (flattened, row-major) widened to fp32: what a rank
   * reads of a tensor it holds a shard of. Only those bytes are mapped.
   */
  public float[] floats(String name, long begin, int count) throws IOException {
    return floats(name, begin, count, WINDOW_BYTES);
  }

  /** Bytes mapped at a time by {@link #floats}: a range may be larger than one buffer holds. */
  static final int WINDOW_BYTES = Integer.MAX_VALUE / 8;

  /** {@link #floats(String, long, int)}, mapping at most windowBytes (rounded down to whole elements) at a time. */
  float[] floats(String name, long begin, int count, int windowBytes) throws IOException {
    TensorInfo t = info(name);
    if (!t.dtype().floating()) {
      throw new CheckpointException(path + ": tensor " + name + " is " + t.dtype() + ", not floating point");
    }
    if (begin < 0 || count < 0 || begin + count > t.elements()) {
      throw new IllegalArgumentException("elements [" + begin + ", " + (begin + count) + ") are outside " + name + " ("
          + t.elements() + " elements)");
    }
    int size = t.dtype().bytes();
    float[] out = new float[count];
    int done = 0;
    int perWindow = Math.max(1, windowBytes / size);
    while (done < count) {
      int n = Math.min(count - done, perWindow);
      ByteBuffer b = rawRange(name, (begin + done) * size, (long) n * size);
      switch (t.dtype()) {
        case F32 -> b.asFloatBuffer().get(out, done, n);
        case F16 -> {
          for (int i = 0; i < n; i++) {
            out[done + i] = Floats.f16ToFloat(b.getShort());
          }
        }
        case BF16 -> {
          for (int i = 0; i < n; i++) {
            out[done + i] = Floats.bf16ToFloat(b.getShort());
          }
        }
        case F64 -> {
          for (int i = 0; i < n; i++) {
            out[done + i] = (float) b.getDouble();
          }
        }
        default -> throw new IllegalStateException();
      }
      done += n;
    }
    return out;
  }

  /** An integer or boolean tensor as longs. */
  public long[] longs(String name) throws IOException {
    TensorInfo t = info(name);
    if (t.dtype().floating()) {
      throw new CheckpointException(path + ": tensor " + name + " is " + t.dtype() + ", not an integer type");
    }
    ByteBuffer b = raw(name);
    long[] out = new long[Math.toIntExact(t.elements())];
    for (int i = 0; i < out.length; i++) {
      out[i] = switch (t.dtype()) {
        case I64 -> b.getLong();
        case I32 -> b.getInt();
        case I16 -> b.getShort();
        case I8 -> b.get();
        case U8, BOOL -> b.get() & 0xFF;
        default -> throw new IllegalStateException();
      };
    }
    return out;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** A read at a position, as FileChannel's: the bytes read, -1 at the end of the file. */
  interface PositionalRead {
    int read(ByteBuffer buffer, long position) throws IOException;
  }

  /** Fills the buffer from the position on, however few bytes each read returns. */
  static void readFully(PositionalRead channel, ByteBuffer buffer, long position) throws IOException {
    long pos = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, pos);
      if (n < 0) {
        throw new CheckpointException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }
}
