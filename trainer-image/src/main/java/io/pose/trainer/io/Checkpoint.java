package io.pose.trainer.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The weights of a Hugging Face model directory: one model.safetensors, or shards listed by
 * model.safetensors.index.json. The index and the shards must agree exactly (every listed tensor in its shard,
 * every shard tensor listed); pickled .bin/.pt checkpoints are never read (loading them can run arbitrary code).
 */
public final class Checkpoint implements AutoCloseable, TensorSource {

  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path directory;
  private final List<SafetensorsFile> files;
  private final Map<String, SafetensorsFile> byTensor;

  private Checkpoint(Path directory, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
    this.directory = directory;
    this.files = files;
    this.byTensor = byTensor;
  }

  public static Checkpoint open(Path directory) throws IOException {
    Path index = directory.resolve(INDEX_FILE);
    if (Files.exists(index)) {
      return openSharded(directory, index);
    }
    Path single = directory.resolve(SINGLE_FILE);
    if (Files.exists(single)) {
      SafetensorsFile file = SafetensorsFile.open(single);
      Map<String, SafetensorsFile> map = new TreeMap<>();
      file.tensors().keySet().forEach(n -> map.put(n, file));
      return new Checkpoint(directory, List.of(file), map);
    }
    boolean pickled;
    try (var listing = Files.list(directory)) {
      pickled = listing.anyMatch(p -> p.toString().endsWith(".bin") || p.toString().endsWith(".pt"));
    } catch (java.nio.file.NoSuchFileException e) {
      throw new java.nio.file.NoSuchFileException(directory + ": no such directory");
    }
    throw new CheckpointException(directory + ": no " + SINGLE_FILE + " and no " + INDEX_FILE
        + (pickled ? "; the .bin/.pt weights there are pickles, which are not loaded (unpickling can run arbitrary "
            + "code): convert them to safetensors" : ""));
  }

  private static Checkpoint openSharded(Path directory, Path index) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(index.toFile());
    } catch (IOException e) {
      throw new CheckpointException(index + ": not valid JSON: " + e.getMessage(), e);
    }
    JsonNode weightMap = root == null ? null : root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new CheckpointException(index + ": weight_map is missing");
    }
    Map<String, String> listed = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String shard = e.getValue().asText();
      if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")) {
        throw new CheckpointException(index + ": weight_map." + e.getKey() + " names \"" + shard
            + "\", which is not a file in this directory");
      }
      listed.put(e.getKey(), shard);
    }
    Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    List<SafetensorsFile> opened = new ArrayList<>();
    try {
      for (String shard : new java.util.TreeSet<>(listed.values())) {
        Path file = directory.resolve(shard);
        if (!Files.exists(file)) {
          throw new CheckpointException(index + ": shard " + shard + " is missing");
        }
        SafetensorsFile f = SafetensorsFile.open(file);
        opened.add(f);
        shards.put(shard, f);
      }
      Map<String, SafetensorsFile> byTensor = new TreeMap<>();
      for (Map.Entry<String, String> e : listed.entrySet()) {
        SafetensorsFile f = shards.get(e.getValue());
        if (!f.tensors().containsKey(e.getKey())) {
          throw new CheckpointException(index + ": tensor " + e.getKey() + " is listed in " + e.getValue()
              + " but that shard does not hold it");
        }
        byTensor.put(e.getKey(), f);
      }
      for (Map.Entry<String, SafetensorsFile> e : shards.entrySet()) {
        for (String tensor : e.getValue().tensors().keySet()) {
          if (!e.getKey().equals(listed.get(tensor))) {
            throw new CheckpointException(index + ": shard " + e.getKey() + " holds " + tensor
                + ", which the index " + (listed.containsKey(tensor) ? "places in " + listed.get(tensor) : "does not list"));
          }
        }
      }
      return new Checkpoint(directory, Collections.unmodifiableList(opened), byTensor);
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile f : opened) {
        f.close();
      }
      throw e;
    }
  }

  public Path directory() {
    return directory;
  }

  /** Every tensor of the model, by name. */
  public Map<String, TensorInfo> tensors() {
    Map<String, TensorInfo> out = new TreeMap<>();
    byTensor.forEach((name, file) -> out.put(name, file.info(name)));
    return out;
  }

  @Override
  public long[] shape(String name) {
    return info(name).shape();
  }

  @Override
  public String describe() {
    return directory.toString();
  }

  @Override
  public boolean has(String name) {
    return byTensor.containsKey(name);
  }

  public TensorInfo info(String name) {
    return file(name).info(name);
  }

  public float[] floats(String name) throws IOException {
    return file(name).floats(name);
  }

  /** Elements [begin, begin + count) of a tensor (flattened), widened to fp32. */
  @Override
  public float[] floats(String name, long begin, int count) throws IOException {
    return file(name).floats(name, begin, count);
  }

  public ByteBuffer raw(String name) throws IOException {
    return file(name).raw(name);
  }

  private SafetensorsFile file(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new CheckpointException(directory + ": the checkpoint has no tensor " + name);
    }
    return f;
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (SafetensorsFile f : files) {
      try {
        f.close();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
