package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
}
