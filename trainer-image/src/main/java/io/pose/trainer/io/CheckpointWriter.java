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
    List<List<TensorData>> shards = new ArrayList<>();
    List<TensorData> current = new ArrayList<>();
    long size = 0;
    for (TensorData t : tensors) {
      if (!current.isEmpty() && size + t.bytes() > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        size = 0;
      }
      current.add(t);
      size += t.bytes();
    }
    if (!current.isEmpty() || shards.isEmpty()) {
      shards.add(current);
    }
    Files.createDirectories(directory);
    List<Path> written = new ArrayList<>();
    if (shards.size() == 1) {
      Path file = directory.resolve(Checkpoint.SINGLE_FILE);
      SafetensorsWriter.write(file, shards.get(0), metadata);
      written.add(file);
      return written;
    }
    Map<String, String> weightMap = new TreeMap<>();
    long total = 0;
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      Path file = directory.resolve(name);
      SafetensorsWriter.write(file, shards.get(i), metadata);
      written.add(file);
      for (TensorData t : shards.get(i)) {
        weightMap.put(t.name(), name);
        total += t.bytes();
      }
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    Path indexFile = directory.resolve(Checkpoint.INDEX_FILE);
    Files.writeString(indexFile, JSON.writeValueAsString(index) + "\n");
    written.add(indexFile);
    return written;
  }
}
