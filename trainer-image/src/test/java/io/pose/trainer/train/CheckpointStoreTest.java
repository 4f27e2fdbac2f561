package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.OpenFiles;
import io.pose.trainer.io.SafetensorsWriter;
import io.pose.trainer.io.ShardedTensors;
import io.pose.trainer.io.TensorData;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sharded checkpoints refuse what is not whole, naming the file: a missing shard, a truncated one, pieces that do
 * not cover a tensor; a write cut off half-way leaves only its staging directory, which no resume reads and the
 * next checkpoint removes.
 */
class CheckpointStoreTest {

  @TempDir
  static Path shared;
  static Path checkpoints;

  @BeforeAll
  static void twoRanksAtZero3() throws Exception {
    ZeroTest.shared = shared;
    ZeroTest.corpus();
    checkpoints = shared.resolve("checkpoints");
    InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(1));
    ZeroTest.train(2, 3, ComputeType.FP32, ZeroTest.plan(2, 1.0, false), checkpoints, null, 2, group::member);
    ZeroTest.stop();
  }

  static Path copy(Path tmp) throws IOException {
    Path dir = tmp.resolve("checkpoints/step-00000002");
    Files.createDirectories(dir);
    try (var files = Files.list(checkpoints.resolve("step-00000002"))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, dir.resolve(f.getFileName()));
      }
    }
    return dir;
  }

  @Test
  void aCompleteCheckpointOpensWithEveryTensorWhole(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    assertThat(saved.step()).isEqualTo(2);
    try (CheckpointStore.Stored stored = CheckpointStore.open(saved)) {
      assertThat(stored.has("model.embed_tokens.weight")).isTrue();
      assertThat(stored.has("exp_avg/model.layers.1.mlp.down_proj.weight")).isTrue();
      assertThat(stored.shape("model.layers.0.self_attn.q_proj.weight")).containsExactly(32, 32);
      // a range across the two ranks' pieces of a tensor reads as one
      assertThat(stored.floats("model.embed_tokens.weight", 0, 128 * 32)).hasSize(128 * 32);
    }
  }

  @Test
  void aMissingShardIsNamed(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    Files.delete(dir.resolve("shard-00001-of-00002.safetensors"));
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    assertThatThrownBy(() -> CheckpointStore.open(saved)).isInstanceOf(CheckpointException.class)
        .hasMessageContaining("shard-00001-of-00002.safetensors: the shard is missing");
  }

  @Test
  void aTruncatedShardIsNamed(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    Path shard = dir.resolve("shard-00000-of-00002.safetensors");
    try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
      f.setLength(f.length() - 100);
    }
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    assertThatThrownBy(() -> CheckpointStore.open(saved)).isInstanceOf(CheckpointException.class)
        .hasMessageContaining("shard-00000-of-00002.safetensors");
  }

  @Test
  void aShardFromAnotherCheckpointLeavesAGapThatIsNamed(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    // rank 1's shard replaced by rank 0's: the second halves of the units are missing, the first ones doubled
    Files.copy(dir.resolve("shard-00000-of-00002.safetensors"), dir.resolve("shard-00001-of-00002.safetensors"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    assertThatThrownBy(() -> CheckpointStore.open(saved)).isInstanceOf(CheckpointException.class)
        .hasMessageMatching("(?s).*(overlaps another shard|is missing elements).*");
  }

  @Test
  void aWriteCutOffLeavesOnlyItsStagingWhichNoResumeReads(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    Path staging = dir.getParent().resolve(".step-00000004.staging-shared");
    Files.createDirectories(staging);
    Files.copy(dir.resolve("shard-00000-of-00002.safetensors"), staging.resolve("shard-00000-of-00002.safetensors"));
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    assertThat(saved.step()).as("the half-written step 4 is not a checkpoint").isEqualTo(2);
  }

  @Test
  void aStateFileThatIsNotJsonIsNamed(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    Files.writeString(dir.resolve("trainer_state.json"), "{\"step\": 2,");
    assertThatThrownBy(() -> new CheckpointStore(dir.getParent()).latest()).isInstanceOf(CheckpointException.class)
        .hasMessageContaining("trainer_state.json: not valid JSON");
  }

  /**
   * A checkpoint of the single-process trainer (model.safetensors with the weights, optimizer.safetensors with the
   * moments, whole tensors, a state without format or shards) is still read, and resumes exactly as the sharded
   * checkpoint it was made from.
   */
  @Test
  void aSingleProcessCheckpointResumesExactlyLikeTheShardedOne(@TempDir Path tmp) throws Exception {
    Path sharded = copy(tmp);
    Path legacy = tmp.resolve("legacy/step-00000002");
    Files.createDirectories(legacy);
    List<TensorData> weights = new ArrayList<>();
    List<TensorData> moments = new ArrayList<>();
    try (ShardedTensors t = ShardedTensors.open(List.of(sharded.resolve(CheckpointStore.shardName(0, 2)),
        sharded.resolve(CheckpointStore.shardName(1, 2))), "step 2")) {
      for (Map.Entry<String, long[]> e : t.tensors().entrySet()) {
        long n = 1;
        for (long d : e.getValue()) {
          n *= d;
        }
        TensorData d = TensorData.f32(e.getKey(), e.getValue(), t.floats(e.getKey(), 0, (int) n));
        (e.getKey().startsWith("exp_avg") ? moments : weights).add(d);
      }
    }
    SafetensorsWriter.write(legacy.resolve("model.safetensors"), weights, Map.of("format", "pt"));
    SafetensorsWriter.write(legacy.resolve(CheckpointStore.LEGACY_OPTIMIZER_FILE), moments, Map.of());
    ObjectMapper json = new ObjectMapper();
    ObjectNode state = (ObjectNode) json.readTree(sharded.resolve(CheckpointStore.STATE_FILE).toFile());
    List.of("format", "shards", "worldSize", "zeroStage").forEach(state::remove);
    Files.writeString(legacy.resolve(CheckpointStore.STATE_FILE), json.writeValueAsString(state));

    CheckpointStore.Saved fromLegacy = new CheckpointStore(legacy.getParent()).latest().orElseThrow();
    CheckpointStore.Saved fromShards = new CheckpointStore(sharded.getParent()).latest().orElseThrow();
    assertThat(fromLegacy.worldSize()).isEqualTo(1);
    assertThat(fromLegacy.zeroStage()).isZero();
    String weight = "model.layers.0.self_attn.q_proj.weight";
    String moment = "exp_avg_sq/" + weight;
    try (CheckpointStore.Stored a = CheckpointStore.open(fromLegacy);
        CheckpointStore.Stored b = CheckpointStore.open(fromShards)) {
      assertThat(a.describe()).isEqualTo(legacy.toString());
      for (String name : List.of(weight, moment, "exp_avg/" + weight)) {
        assertThat(a.has(name)).as(name).isTrue();
        assertThat(a.shape(name)).as(name).containsExactly(b.shape(name));
        assertThat(a.floats(name, 5, 100)).as(name).containsExactly(b.floats(name, 5, 100));
      }
      assertThat(a.has("no.such.weight")).isFalse();
      assertThat(b.has("no.such.weight")).isFalse();
      assertThat(a.floats(moment, 0, 8)).as("a moment, not the weight of the same name")
          .isNotEqualTo(a.floats(weight, 0, 8));
    }

    ZeroTest.pool = Executors.newCachedThreadPool();
    try {
      List<ZeroTest.Outcome> a = ZeroTest.train(1, 0, ComputeType.FP32, ZeroTest.plan(1, 1.0, false),
          tmp.resolve("a"), fromLegacy, 4, r -> SingleRank.INSTANCE);
      List<ZeroTest.Outcome> b = ZeroTest.train(1, 0, ComputeType.FP32, ZeroTest.plan(1, 1.0, false),
          tmp.resolve("b"), fromShards, 4, r -> SingleRank.INSTANCE);
      assertThat(a.get(0).steps()).extracting(StepResult::loss)
          .containsExactlyElementsOf(b.get(0).steps().stream().map(StepResult::loss).toList());
      for (String name : b.get(0).weights().keySet()) {
        assertThat(a.get(0).weights().get(name)).as(name).containsExactly(b.get(0).weights().get(name));
      }
    } finally {
      ZeroTest.pool.shutdownNow();
    }
  }

  static void state(Path dir, int step) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(CheckpointStore.STATE_FILE), "{\"step\": " + step
        + ", \"samplesConsumed\": 0, \"adamStep\": 0, \"runIdentity\": \"r\"}");
  }

  /**
   * The newest checkpoint is the highest step among the directories named step-NNNNNNNN that hold a state; other
   * directories are not checkpoints, are never resumed and never pruned.
   */
  @Test
  void theNewestIsTheHighestStepAndOtherDirectoriesAreLeftAlone(@TempDir Path tmp) throws IOException {
    Path root = tmp.resolve("checkpoints");
    for (int step : new int[] {3, 17, 5, 12, 1, 9, 20, 14, 7, 2, 11, 16}) {
      state(root.resolve(String.format("step-%08d", step)), step);
    }
    Files.createDirectories(root.resolve("step-00000030")); // no state: a copy cut off
    state(root.resolve("step-99"), 99); // not a checkpoint's name
    state(root.resolve("notes"), 98);
    CheckpointStore store = new CheckpointStore(root);
    assertThat(store.root()).isEqualTo(root);
    assertThat(store.latest().orElseThrow().step()).isEqualTo(20);
    assertThat(store.saved(12).directory()).isEqualTo(root.resolve("step-00000012"));

    store.prune(3);
    try (var listing = Files.list(root)) {
      assertThat(listing.map(p -> p.getFileName().toString()).sorted()).containsExactly("notes", "step-00000016",
          "step-00000017", "step-00000020", "step-00000030", "step-99");
    }
    assertThat(store.latest().orElseThrow().step()).isEqualTo(20);
    assertThat(new CheckpointStore(tmp.resolve("none")).latest()).isEmpty();
  }

  /** A single-process checkpoint whose optimizer file is missing is refused by name, and its weights file closed. */
  @Test
  void aSingleProcessCheckpointWithoutItsOptimizerFileIsRefusedAndLeavesNothingOpen(@TempDir Path tmp)
      throws IOException {
    Path dir = tmp.resolve("legacy/step-00000002");
    Files.createDirectories(dir);
    Files.copy(TrainerTest.MODEL.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    state(dir, 2);
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    int before = OpenFiles.count();
    for (int i = 0; i < 100; i++) {
      assertThatThrownBy(() -> CheckpointStore.open(saved)).isInstanceOf(java.nio.file.NoSuchFileException.class)
          .hasMessageContaining(CheckpointStore.LEGACY_OPTIMIZER_FILE);
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);
  }


  /** Closing a checkpoint's tensors closes every shard file. */
  @Test
  void closingACheckpointClosesItsFiles(@TempDir Path tmp) throws IOException {
    Path dir = copy(tmp);
    CheckpointStore.Saved saved = new CheckpointStore(dir.getParent()).latest().orElseThrow();
    int before = OpenFiles.count();
    for (int i = 0; i < 100; i++) {
      try (CheckpointStore.Stored stored = CheckpointStore.open(saved)) {
        assertThat(stored.floats("model.norm.weight", 0, 4)).hasSize(4);
      }
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);
  }

  /** Rank 0's collective, slow after every barrier: as a rank 0 that takes its time to commit. */
  static io.pose.trainer.dist.Collective slowAfterBarriers(io.pose.trainer.dist.Collective inner) {
    return new io.pose.trainer.dist.ForwardingCollective(inner) {
      @Override
      public void barrier() {
        inner.barrier();
        try {
          Thread.sleep(300);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
  }

  /**
   * When save returns on a rank, the checkpoint is in place for it, however late rank 0 commits: what a rank that
   * then stops, or agrees with the others on the newest checkpoint, relies on.
   */
  @Test
  void whenSaveReturnsOnAnyRankTheCheckpointIsInPlace(@TempDir Path tmp) throws Exception {
    Path checkpoints = tmp.resolve("checkpoints");
    InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(1));
    TrainingPlan plan = ZeroTest.plan(2, 1.0, false);
    java.util.concurrent.ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<java.util.concurrent.Future<List<Integer>>> seen = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        seen.add(pool.submit(() -> {
          io.pose.trainer.dist.Collective c = rank == 0 ? slowAfterBarriers(group.member(0)) : group.member(1);
          List<Integer> latest = new ArrayList<>();
          try (io.pose.trainer.io.Checkpoint weights = io.pose.trainer.io.Checkpoint.open(TrainerTest.MODEL);
              TrainerTest.Run run = TrainerTest.run(weights, plan, checkpoints, "race", ComputeType.FP32, 0, c)) {
            run.trainer().run(4, step -> {
              try {
                latest.add(new CheckpointStore(checkpoints).latest().map(CheckpointStore.Saved::step).orElse(0));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
          } finally {
            c.close();
          }
          return latest;
        }));
      }
      // checkpoints every 2 steps: after step 2 and step 4 every rank sees them at once
      assertThat(seen.get(1).get()).as("rank 1").containsExactly(0, 2, 2, 4);
      assertThat(seen.get(0).get()).as("rank 0").containsExactly(0, 2, 2, 4);
    } finally {
      pool.shutdownNow();
    }
  }
}
