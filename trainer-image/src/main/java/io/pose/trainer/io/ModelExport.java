package io.pose.trainer.io;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.hf.ConfigExtension;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes an extended model as a Hugging Face model directory: config.json with the target length and the RoPE
 * scaling the model was trained with (pose-core's {@link ConfigExtension}), the weights in the base model's dtype
 * (safetensors, sharded like save_pretrained), and the base's tokenizer and generation files copied unchanged. The
 * whole directory appears at once ({@link AtomicDirectory}): a crash never leaves half a model.
 *
 * <p>The weights are read in ranges from a {@link TensorSource} (a sharded training checkpoint) and converted on the
 * way, a bounded chunk at a time: the ranks of a run share the work (rank r writes shard files r, r + N, ...), and
 * the whole model is never in one buffer nor on one rank.
 */
public final class ModelExport {
  private ModelExport() {}

  /** Files of a model directory that are copied from the base model as they are. */
  public static final List<String> COPIED_FILES = List.of("generation_config.json", "tokenizer.json",
      "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "added_tokens.json", "vocab.json",
      "merges.txt", "chat_template.jinja");

  /** Elements converted at a time. */
  static final int CHUNK = 1 << 22;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Which rank of how many writes, and how the ranks wait for each other. */
  public record Part(int rank, int world, Runnable barrier) {
    /** The whole export in this process. */
    public static final Part WHOLE = new Part(0, 1, () -> { });
  }

  /**
   * @param baseDirectory the base model (its config.json and tokenizer files)
   * @param plan the extension (original and target lengths, scaling)
   * @param weights the trained fp32 weights by Hugging Face name, in parameter order
   * @param target the directory to write
   */
  public static void write(Path baseDirectory, ConfigExtension.Plan plan, Map<String, NDArray> weights, Path target,
      long maxShardBytes) throws IOException {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    weights.forEach((name, a) -> shapes.put(name, a.getShape().getShape()));
    TensorSource inMemory = new TensorSource() {
      @Override
      public boolean has(String name) {
        return weights.containsKey(name);
      }

      @Override
      public long[] shape(String name) {
        return shapes.get(name);
      }

      @Override
      public float[] floats(String name, long begin, int count) {
        float[] all = weights.get(name).toFloatArray();
        return java.util.Arrays.copyOfRange(all, Math.toIntExact(begin), Math.toIntExact(begin + count));
      }

      @Override
      public String describe() {
        return "the trained weights";
      }
    };
    write(baseDirectory, plan, inMemory, new ArrayList<>(weights.keySet()), target, maxShardBytes, Part.WHOLE);
  }

  /**
   * Writes the model from weights read in ranges; every rank of the part calls it.
   *
   * @param names the parameters, in the order they are written
   */
  public static void write(Path baseDirectory, ConfigExtension.Plan plan, TensorSource weights, List<String> names,
      Path target, long maxShardBytes, Part part) throws IOException {
    write(baseDirectory, plan, weights, names, target, maxShardBytes, part, CHUNK);
  }

  /** The export above, converting at most chunk values of a tensor at a time. */
  static void write(Path baseDirectory, ConfigExtension.Plan plan, TensorSource weights, List<String> names,
      Path target, long maxShardBytes, Part part, int chunk) throws IOException {
    Path baseConfig = baseDirectory.resolve("config.json");
    ObjectNode original = (ObjectNode) JSON.readTree(Files.readString(baseConfig));
    String extended = ConfigExtension.extend(Files.readString(baseConfig), plan, baseConfig.toString());
    DType dtype = dtypeOf(original);
    List<SafetensorsWriter.Header> headers = new ArrayList<>();
    for (String name : names) {
      headers.add(new SafetensorsWriter.Header(name, dtype, weights.shape(name)));
    }
    List<List<SafetensorsWriter.Header>> shards = CheckpointWriter.split(headers, SafetensorsWriter.Header::bytes,
        maxShardBytes);
    if (part.rank() == 0) {
      AtomicDirectory.prepareShared(target);
    }
    part.barrier().run();
    Path staging = AtomicDirectory.sharedStaging(target);
    for (int i = part.rank(); i < shards.size(); i += part.world()) {
      SafetensorsWriter.write(staging.resolve(CheckpointWriter.fileName(i, shards.size())), shards.get(i),
          Map.of("format", "pt"), (header, out) -> convert(weights, header, out, chunk));
    }
    part.barrier().run(); // every shard is written
    if (part.rank() == 0) {
      Files.writeString(staging.resolve("config.json"), extended);
      if (shards.size() > 1) {
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
          for (SafetensorsWriter.Header h : shards.get(i)) {
            weightMap.put(h.name(), CheckpointWriter.fileName(i, shards.size()));
            total += h.bytes();
          }
        }
        CheckpointWriter.writeIndex(staging, weightMap, total);
      }
      for (String name : COPIED_FILES) {
        Path source = baseDirectory.resolve(name);
        if (Files.exists(source)) {
          Files.copy(source, staging.resolve(name), StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
      AtomicDirectory.commitShared(target);
    }
    part.barrier().run(); // the model is in place for everyone
  }

  /** A tensor's fp32 values, read a chunk at a time and written in the file's dtype. */
  private static void convert(TensorSource weights, SafetensorsWriter.Header header, SafetensorsWriter.Sink out,
      int chunk) throws IOException {
    long numel = header.bytes() / header.dtype().bytes();
    ByteBuffer b = ByteBuffer.allocate((int) Math.min(numel, chunk) * header.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
    for (long done = 0; done < numel; ) {
      int n = (int) Math.min(chunk, numel - done);
      float[] values = weights.floats(header.name(), done, n);
      b.clear();
      for (float v : values) {
        switch (header.dtype()) {
          case BF16 -> b.putShort(Floats.floatToBf16(v));
          case F16 -> b.putShort(Floats.floatToF16(v));
          default -> b.putFloat(v);
        }
      }
      b.flip();
      out.write(b);
      done += n;
    }
  }

  /** The dtype the base model ships in (torch_dtype in transformers v4 files, dtype in v5); fp32 when unsaid. */
  static DType dtypeOf(ObjectNode config) {
    String name = config.has("torch_dtype") && !config.get("torch_dtype").isNull() ? config.get("torch_dtype").asText()
        : config.path("dtype").asText("float32");
    return switch (name) {
      case "bfloat16" -> DType.BF16;
      case "float16" -> DType.F16;
      case "float32" -> DType.F32;
      default -> throw new CheckpointException("config.json: dtype \"" + name + "\" is not one of bfloat16, float16, float32");
    };
  }
}
