package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.io.AtomicDirectory;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.SafetensorsFile;
import io.pose.trainer.io.ShardedTensors;
import io.pose.trainer.io.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Training checkpoints, re-shardable: {@code step-00000100/} holds one {@code shard-0000r-of-0000N.safetensors} per
 * rank with the pieces of the fp32 master weights and of the AdamW moments ({@code exp_avg/<name>},
 * {@code exp_avg_sq/<name>}) in the rank's shard of every unit (under ZeRO 0, where every rank holds everything, the
 * ranks still share the writing), and {@code trainer_state.json} (step, loader position, optimizer step, loss scale, what the
 * run was, the world size and stage it was written at). A run resumes from it at any world size and ZeRO stage:
 * each rank reads the elements it owns in the new layout ({@link ShardedTensors}).
 *
 * <p>Every rank writes its shard into one staging directory on the shared workspace; once all have (a barrier),
 * rank 0 writes the state file and renames the directory into place. A directory that exists is therefore complete;
 * the newest one is where a restarted run resumes. The last K are kept.
 */
public final class CheckpointStore {

  static final String STATE_FILE = "trainer_state.json";
  static final String FORMAT = "pose-sharded/1";
  /** The files of checkpoints written before sharding (still read). */
  static final String LEGACY_OPTIMIZER_FILE = "optimizer.safetensors";
  static final String EXP_AVG = "exp_avg/";
  static final String EXP_AVG_SQ = "exp_avg_sq/";
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8})");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path root;

  public CheckpointStore(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  /**
   * What a run resumes with.
   *
   * @param step optimizer steps done
   * @param samplesConsumed the loader position: index of the next sample
   * @param directory the checkpoint directory
   * @param runIdentity what the run was (batch size, seed, sampler): a resume must match it
   * @param worldSize the ranks that wrote it
   * @param zeroStage the ZeRO stage it was written under
   */
  public record Saved(int step, long samplesConsumed, Path directory, String runIdentity, int worldSize,
      int zeroStage) {}

  /**
   * Writes a checkpoint: every rank calls it at the same step; when it returns on any rank, the checkpoint exists.
   *
   * @param scaler the fp16 loss scaler, whose state is saved too, or null
   */
  public void save(int step, long samplesConsumed, String runIdentity, ZeroModel model, AdamW adam, LossScaler scaler,
      int keep) throws IOException {
    Collective c = model.collective();
    Path target = root.resolve(String.format("step-%08d", step));
    if (c.rank() == 0) {
      AtomicDirectory.prepareShared(target);
    }
    c.barrier();
    // every rank writes its shard, at every stage: the writing is shared, and no rank waits on another's whole model
    int writers = c.worldSize();
    writeShard(AtomicDirectory.sharedStaging(target).resolve(shardName(c.rank(), writers)), model, adam);
    c.barrier(); // every shard is written
    if (c.rank() == 0) {
      ObjectNode state = JSON.createObjectNode();
      state.put("format", FORMAT);
      state.put("step", step);
      state.put("samplesConsumed", samplesConsumed);
      state.put("adamStep", adam.stepCount());
      state.put("runIdentity", runIdentity);
      state.put("worldSize", c.worldSize());
      state.put("zeroStage", model.stage());
      state.put("shards", writers);
      if (scaler != null) {
        state.put("lossScale", scaler.scale());
        state.put("lossScaleGoodSteps", scaler.goodSteps());
      }
      Files.writeString(AtomicDirectory.sharedStaging(target).resolve(STATE_FILE),
          JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state) + "\n");
      AtomicDirectory.commitShared(target);
      prune(keep);
    }
    c.barrier(); // the checkpoint is in place for everyone
  }

  static String shardName(int rank, int of) {
    return String.format("shard-%05d-of-%05d.safetensors", rank, of);
  }

  private static void writeShard(Path file, ZeroModel model, AdamW adam) throws IOException {
    List<ShardedTensors.Piece> pieces = new ArrayList<>();
    Map<String, NDArray> flats = new HashMap<>();
    Map<String, ShardLayout.Piece> where = new HashMap<>();
    Map<String, NDArray> weights = model.ownedWeights();
    for (ShardLayout.Unit u : model.layout().units()) {
      for (ShardLayout.Piece p : model.savedPieces(u)) {
        add(pieces, flats, where, "", p, weights.get(u.name()));
        add(pieces, flats, where, EXP_AVG, p, moment(adam.expAvg(), u));
        add(pieces, flats, where, EXP_AVG_SQ, p, moment(adam.expAvgSq(), u));
      }
    }
    ShardedTensors.write(file, pieces, Map.of("format", FORMAT),
        (piece, from, count) -> ZeroModel.values(flats.get(piece.name()), where.get(piece.name()), from, count));
  }

  private static NDArray moment(Map<String, NDArray> moments, ShardLayout.Unit u) {
    NDArray m = moments.get(u.name());
    if (m == null) {
      throw new IllegalStateException("no AdamW moments for " + u.name() + ": a checkpoint is written after a step");
    }
    return m;
  }

  private static void add(List<ShardedTensors.Piece> pieces, Map<String, NDArray> flats,
      Map<String, ShardLayout.Piece> where, String prefix, ShardLayout.Piece p, NDArray flat) {
    ShardedTensors.Piece stored = p.stored(prefix);
    pieces.add(stored);
    flats.put(stored.name(), flat);
    where.put(stored.name(), p);
  }

  /** The checkpoint of a step, which must exist (what this run just wrote). */
  public Saved saved(int step) throws IOException {
    Path dir = root.resolve(String.format("step-%08d", step));
    JsonNode s = readState(dir);
    return new Saved(s.get("step").asInt(), s.get("samplesConsumed").asLong(), dir, s.get("runIdentity").asText(),
        s.path("worldSize").asInt(1), s.path("zeroStage").asInt(0));
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
      JsonNode s = readState(dir);
      return Optional.of(new Saved(s.get("step").asInt(), s.get("samplesConsumed").asLong(), dir,
          s.get("runIdentity").asText(), s.path("worldSize").asInt(1), s.path("zeroStage").asInt(0)));
    }
    return Optional.empty();
  }

  private static JsonNode readState(Path dir) throws IOException {
    Path state = dir.resolve(STATE_FILE);
    try {
      JsonNode s = JSON.readTree(state.toFile());
      if (s == null || !s.has("step") || !s.has("samplesConsumed") || !s.has("runIdentity") || !s.has("adamStep")) {
        throw new CheckpointException(state + ": not a trainer state (step, samplesConsumed, adamStep, runIdentity)");
      }
      return s;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new CheckpointException(state + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /**
   * The checkpoint's tensors: the weights by name, the moments under {@code exp_avg/} and {@code exp_avg_sq/}. Its
   * shards are checked (all present, readable, covering every tensor exactly once).
   */
  public static Stored open(Saved saved) throws IOException {
    JsonNode s = readState(saved.directory());
    if (!FORMAT.equals(s.path("format").asText())) {
      return Stored.legacy(saved.directory());
    }
    int shards = s.path("shards").asInt(0);
    if (shards < 1) {
      throw new CheckpointException(saved.directory().resolve(STATE_FILE) + ": shards is missing");
    }
    List<Path> files = new ArrayList<>();
    for (int r = 0; r < shards; r++) {
      files.add(saved.directory().resolve(shardName(r, shards)));
    }
    return new Stored(ShardedTensors.open(files, saved.directory().toString()), null);
  }

  /** Restores the weights' optimizer state, the loss scale and the optimizer step of a checkpoint into a rank. */
  public static void restore(Saved saved, Stored tensors, ZeroModel model, AdamW adam, LossScaler scaler,
      NDManager manager) throws IOException {
    JsonNode s = readState(saved.directory());
    adam.restore(s.get("adamStep").asLong(), model.loadOwned(tensors, EXP_AVG, manager),
        model.loadOwned(tensors, EXP_AVG_SQ, manager));
    if (scaler != null && s.has("lossScale")) {
      scaler.restore(s.get("lossScale").asDouble(), s.path("lossScaleGoodSteps").asInt());
    }
  }

  /** A checkpoint's tensors, read in ranges; close it when the rank has what it needs. */
  public static final class Stored implements TensorSource, AutoCloseable {
    private final TensorSource tensors;
    private final AutoCloseable[] resources;

    private Stored(TensorSource tensors, AutoCloseable second, AutoCloseable... more) {
      this.tensors = tensors;
      List<AutoCloseable> all = new ArrayList<>();
      all.add(tensors);
      if (second != null) {
        all.add(second);
      }
      all.addAll(List.of(more));
      this.resources = all.toArray(AutoCloseable[]::new);
    }

    /** A checkpoint of the single-process trainer: model.safetensors + optimizer.safetensors, whole tensors. */
    static Stored legacy(Path dir) throws IOException {
      Checkpoint weights = Checkpoint.open(dir);
      SafetensorsFile optimizer;
      try {
        optimizer = SafetensorsFile.open(dir.resolve(LEGACY_OPTIMIZER_FILE));
      } catch (IOException | RuntimeException e) {
        weights.close();
        throw e;
      }
      TensorSource both = new TensorSource() {
        @Override
        public boolean has(String name) {
          return optimizer.tensors().containsKey(name) || weights.has(name);
        }

        @Override
        public long[] shape(String name) {
          return optimizer.tensors().containsKey(name) ? optimizer.info(name).shape() : weights.shape(name);
        }

        @Override
        public float[] floats(String name, long begin, int count) throws IOException {
          return optimizer.tensors().containsKey(name) ? optimizer.floats(name, begin, count)
              : weights.floats(name, begin, count);
        }

        @Override
        public String describe() {
          return dir.toString();
        }
      };
      return new Stored(both, weights, optimizer);
    }

    @Override
    public boolean has(String name) {
      return tensors.has(name);
    }

    @Override
    public long[] shape(String name) {
      return tensors.shape(name);
    }

    @Override
    public float[] floats(String name, long begin, int count) throws IOException {
      return tensors.floats(name, begin, count);
    }

    @Override
    public String describe() {
      return tensors.describe();
    }

    @Override
    public void close() throws IOException {
      IOException first = null;
      for (AutoCloseable r : resources) {
        try {
          r.close();
        } catch (Exception e) {
          if (first == null) {
            first = e instanceof IOException io ? io : new IOException(e);
          } else {
            first.addSuppressed(e);
          }
        }
      }
      if (first != null) {
        throw first;
      }
    }
  }

  /**
   * Deletes all but the newest keep checkpoints (at least one). Only complete checkpoints of this store count and go:
   * a step directory without a state (not written by this store) is left alone, and never counted among the kept.
   */
  void prune(int keep) throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (var listing = Files.list(root)) {
      listing.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
          .filter(p -> Files.exists(p.resolve(STATE_FILE))).forEach(dirs::add);
    }
    dirs.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
    for (int i = Math.max(1, keep); i < dirs.size(); i++) {
      AtomicDirectory.delete(dirs.get(i));
    }
  }
}
