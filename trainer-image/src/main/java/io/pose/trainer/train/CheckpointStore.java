package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.io.AtomicDirectory;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.SafetensorsFile;
import io.pose.trainer.io.SafetensorsWriter;
import io.pose.trainer.io.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Training checkpoints: {@code step-00000100/} holding model.safetensors (fp32 master weights, loadable like any
 * model directory), optimizer.safetensors (Adam moments) and trainer_state.json (step, loader position, what the
 * run was). Each is written whole through {@link AtomicDirectory}, so a directory that exists is complete; the
 * newest complete one is where a restarted pod resumes. The last K are kept.
 */
public final class CheckpointStore {

  static final String STATE_FILE = "trainer_state.json";
  static final String OPTIMIZER_FILE = "optimizer.safetensors";
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8})");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path root;

  public CheckpointStore(Path root) {
    this.root = root;
  }

  /**
   * What a run resumes with.
   *
   * @param step optimizer steps done
   * @param samplesConsumed the loader position: index of the next sample
   * @param directory the checkpoint directory (its model.safetensors holds the weights)
   * @param runIdentity what the run was (batch size, seed, sampler): a resume must match it
   */
  public record Saved(int step, long samplesConsumed, Path directory, String runIdentity) {}

  public void save(int step, long samplesConsumed, String runIdentity, Map<String, NDArray> weights, AdamW adam,
      int keep) throws IOException {
    save(step, samplesConsumed, runIdentity, weights, adam, null, keep);
  }

  /** @param scaler the fp16 loss scaler, whose state is saved too, or null */
  public void save(int step, long samplesConsumed, String runIdentity, Map<String, NDArray> weights, AdamW adam,
      LossScaler scaler, int keep) throws IOException {
    Path target = root.resolve(String.format("step-%08d", step));
    AtomicDirectory.write(target, dir -> {
      SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE_FILE), tensors(weights, ""), Map.of("format", "pt"));
      List<TensorData> moments = new ArrayList<>(tensors(adam.expAvg(), "exp_avg/"));
      moments.addAll(tensors(adam.expAvgSq(), "exp_avg_sq/"));
      SafetensorsWriter.write(dir.resolve(OPTIMIZER_FILE), moments, Map.of());
      ObjectNode state = JSON.createObjectNode();
      state.put("step", step);
      state.put("samplesConsumed", samplesConsumed);
      state.put("adamStep", adam.stepCount());
      state.put("runIdentity", runIdentity);
      if (scaler != null) {
        state.put("lossScale", scaler.scale());
        state.put("lossScaleGoodSteps", scaler.goodSteps());
      }
      Files.writeString(dir.resolve(STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state) + "\n");
    });
    prune(keep);
  }

  /** The newest complete checkpoint, if any. */
  public Optional<Saved> latest() throws IOException {
    if (!Files.isDirectory(root)) {
      return Optional.empty();
    }
    List<Path> dirs = new ArrayList<>();
    try (var listing = Files.list(root)) {
      listing.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches()).forEach(dirs::add);
    }
    dirs.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
    for (Path dir : dirs) {
      Path state = dir.resolve(STATE_FILE);
      if (!Files.exists(state)) {
        continue; // not written by this store: ignore rather than resume from it
      }
      JsonNode s = JSON.readTree(state.toFile());
      return Optional.of(new Saved(s.get("step").asInt(), s.get("samplesConsumed").asLong(), dir,
          s.get("runIdentity").asText()));
    }
    return Optional.empty();
  }

  /** Restores the optimizer state of a checkpoint into the manager. */
  public void restoreOptimizer(Saved saved, AdamW adam, NDManager manager) throws IOException {
    JsonNode state = JSON.readTree(saved.directory().resolve(STATE_FILE).toFile());
    Map<String, NDArray> m = new LinkedHashMap<>();
    Map<String, NDArray> v = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(saved.directory().resolve(OPTIMIZER_FILE))) {
      for (var e : f.tensors().entrySet()) {
        String name = e.getKey();
        NDArray a = manager.create(f.floats(name), new Shape(e.getValue().shape()));
        if (name.startsWith("exp_avg/")) {
          m.put(name.substring("exp_avg/".length()), a);
        } else if (name.startsWith("exp_avg_sq/")) {
          v.put(name.substring("exp_avg_sq/".length()), a);
        } else {
          throw new CheckpointException(f.path() + ": unexpected tensor " + name);
        }
      }
    }
    adam.restore(state.get("adamStep").asLong(), m, v);
  }

  /** Restores the loss scaler's state of a checkpoint (one written without a scaler leaves it as it is). */
  public void restoreScaler(Saved saved, LossScaler scaler) throws IOException {
    JsonNode state = JSON.readTree(saved.directory().resolve(STATE_FILE).toFile());
    if (state.has("lossScale")) {
      scaler.restore(state.get("lossScale").asDouble(), state.path("lossScaleGoodSteps").asInt());
    }
  }

  private void prune(int keep) throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (var listing = Files.list(root)) {
      listing.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches()).forEach(dirs::add);
    }
    dirs.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
    for (int i = Math.max(1, keep); i < dirs.size(); i++) {
      io.pose.trainer.io.AtomicDirectory.delete(dirs.get(i));
    }
  }

  private static List<TensorData> tensors(Map<String, NDArray> arrays, String prefix) {
    List<TensorData> out = new ArrayList<>();
    arrays.forEach((name, a) -> out.add(TensorData.f32(prefix + name, a.getShape().getShape(), a.toFloatArray())));
    return out;
  }
}
