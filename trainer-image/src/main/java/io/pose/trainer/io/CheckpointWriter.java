package io.pose.trainer.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes model weights as Hugging Face does: one model.safetensors, or shards model-0000k-of-0000N.safetensors
 * of at most a size each plus model.safetensors.index.json. Only the shard files are written here; callers write
 * the whole model directory through {@link AtomicDirectory}.
 */
public final class CheckpointWriter {
  private CheckpointWriter() {}

  /** transformers' default max_shard_size. */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * @param tensors in the order they are written (the model's parameter order)
   * @return the files written
   */
  public static List<Path> write(Path directory, List<TensorData> tensors, long maxShardBytes, Map<String, String> metadata)
      throws IOException {
    List<List<TensorData>> shards = split(tensors, TensorData::bytes, maxShardBytes);
    Files.createDirectories(directory);
    List<Path> written = new ArrayList<>();
    Map<String, String> weightMap = new TreeMap<>();
    long total = 0;
    for (int i = 0; i < shards.size(); i++) {
      String name = fileName(i, shards.size());
      Path file = directory.resolve(name);
      SafetensorsWriter.write(file, shards.get(i), metadata);
      written.add(file);
      for (TensorData t : shards.get(i)) {
        weightMap.put(t.name(), name);
        total += t.bytes();
      }
    }
    if (shards.size() > 1) {
      written.add(writeIndex(directory, weightMap, total));
    }
    return written;
  }

  /**
   * Splits tensors, in order, into shards of at most maxShardBytes each (a tensor larger than that alone), as
   * save_pretrained does; always at least one shard.
   */
  public static <T> List<List<T>> split(List<T> tensors, java.util.function.ToLongFunction<T> bytes, long maxShardBytes) {
    List<List<T>> shards = new ArrayList<>();
    List<T> current = new ArrayList<>();
    long size = 0;
    for (T t : tensors) {
      long b = bytes.applyAsLong(t);
      if (!current.isEmpty() && size + b > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        size = 0;
      }
      current.add(t);
      size += b;
    }
    if (!current.isEmpty() || shards.isEmpty()) {
      shards.add(current);
    }
    return shards;
  }

  /** model.safetensors for a single shard, model-0000k-of-0000N.safetensors otherwise. */
  public static String fileName(int shard, int shards) {
    return shards == 1 ? Checkpoint.SINGLE_FILE : String.format("model-%05d-of-%05d.safetensors", shard + 1, shards);
  }

  /** model.safetensors.index.json: the total size and which file holds each tensor. */
  public static Path writeIndex(Path directory, Map<String, String> weightMap, long totalBytes) throws IOException {
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", totalBytes);
    ObjectNode map = index.putObject("weight_map");
    new TreeMap<>(weightMap).forEach(map::put);
    Path indexFile = directory.resolve(Checkpoint.INDEX_FILE);
    Files.writeString(indexFile, JSON.writeValueAsString(index) + "\n");
    return indexFile;
  }
}
