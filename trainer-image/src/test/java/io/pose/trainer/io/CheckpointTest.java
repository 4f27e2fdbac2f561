package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sharded checkpoints as transformers writes them, the index checked against the shards, atomic directories. */
class CheckpointTest {

  static final Path SHARDED = Path.of("src/test/resources/safetensors/sharded");

  @Test
  void readsAShardedCheckpointWrittenByTheLibrary() throws IOException {
    try (Checkpoint c = Checkpoint.open(SHARDED)) {
      assertThat(c.tensors().keySet()).containsExactly("model.embed_tokens.weight",
          "model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight");
      assertThat(c.floats("model.norm.weight")).containsExactly(1.0f, -2.5f, 3.25f, 65504.0f);
      assertThat(c.info("model.layers.0.mlp.up_proj.weight").dtype()).isEqualTo(DType.BF16);
    }
  }

  private static Path copyOfSharded(Path tmp) throws IOException {
    Path dir = tmp.resolve("model");
    Files.createDirectories(dir);
    try (var files = Files.list(SHARDED)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.copy(p, dir.resolve(p.getFileName()));
      }
    }
    return dir;
  }

  @Test
  void anIndexThatDisagreesWithItsShardsIsRefused(@TempDir Path tmp) throws IOException {
    Path dir = copyOfSharded(tmp);
    Path index = dir.resolve(Checkpoint.INDEX_FILE);
    String text = Files.readString(index);
    Files.writeString(index, text.replace("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
        "\"model.norm.weight\": \"model-00001-of-00002.safetensors\""));
    assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(CheckpointException.class)
        .hasMessageContaining("tensor model.norm.weight is listed in model-00001-of-00002.safetensors but that shard "
            + "does not hold it");
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    var tree = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(text);
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree.get("weight_map")).remove("model.norm.weight");
    Files.writeString(index, json.writeValueAsString(tree));
    assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("which the index does not list");
    Files.writeString(index, text.replace("model-00002-of-00002.safetensors", "../../etc/passwd"));
    assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("which is not a file in this directory");
    Files.writeString(index, text);
    Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
    assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("shard model-00002-of-00002.safetensors is missing");
  }

  @Test
  void picklesAreNeverLoaded(@TempDir Path tmp) throws IOException {
    Files.writeString(tmp.resolve("pytorch_model.bin"), "not a safetensors file");
    assertThatThrownBy(() -> Checkpoint.open(tmp)).hasMessage(tmp + ": no model.safetensors and no "
        + "model.safetensors.index.json; the .bin/.pt weights there are pickles, which are not loaded (unpickling can "
        + "run arbitrary code): convert them to safetensors");
    assertThatThrownBy(() -> Checkpoint.open(tmp.resolve("absent"))).hasMessageEndingWith("no such directory");
  }

  @Test
  void onlyPickledWeightsGetTheirOwnReason(@TempDir Path tmp) throws IOException {
    Path pt = Files.createDirectories(tmp.resolve("pt"));
    Files.writeString(pt.resolve("model.pt"), "not a safetensors file");
    assertThatThrownBy(() -> Checkpoint.open(pt)).isInstanceOf(CheckpointException.class).hasMessage(pt
        + ": no model.safetensors and no model.safetensors.index.json; the .bin/.pt weights there are pickles, which "
        + "are not loaded (unpickling can run arbitrary code): convert them to safetensors");
    Path readme = Files.createDirectories(tmp.resolve("readme"));
    Files.writeString(readme.resolve("README.md"), "# a model card, no weights");
    assertThatThrownBy(() -> Checkpoint.open(readme)).isInstanceOf(CheckpointException.class)
        .hasMessage(readme + ": no model.safetensors and no model.safetensors.index.json");
  }

  @Test
  void answersForItsOwnTensorsOnly(@TempDir Path tmp) throws IOException {
    Path dir = copyOfSharded(tmp);
    try (Checkpoint c = Checkpoint.open(dir)) {
      assertThat(c.directory()).isEqualTo(dir);
      assertThat(c.describe()).isEqualTo(dir.toString());
      assertThat(c.has("model.norm.weight")).isTrue();
      assertThat(c.has("model.embed_tokens.weight")).isTrue();
      assertThat(c.has("no-such-tensor")).isFalse();
      assertThat(c.shape("model.embed_tokens.weight")).containsExactly(7, 4);
      assertThat(c.floats("model.norm.weight", 1, 2)).containsExactly(-2.5f, 3.25f);
      ByteBuffer raw = c.raw("model.norm.weight");
      assertThat(raw.remaining()).isEqualTo(16);
      assertThat(raw.getFloat(12)).isEqualTo(65504.0f);
      assertThatThrownBy(() -> c.floats("no-such-tensor", 0, 1)).isInstanceOf(CheckpointException.class)
          .hasMessage(dir + ": the checkpoint has no tensor no-such-tensor");
    }
  }

  /** A refused checkpoint closes the shards it had opened; closing one releases every shard. */
  @Test
  void refusedAndClosedCheckpointsHoldNoDescriptor(@TempDir Path tmp) throws IOException {
    Path dir = copyOfSharded(tmp);
    Path index = dir.resolve(Checkpoint.INDEX_FILE);
    String text = Files.readString(index);
    Files.writeString(index, text.replace("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
        "\"model.norm.weight\": \"model-00001-of-00002.safetensors\""));
    int before = OpenFiles.count();
    assertThat(before).as("/proc/self/fd is readable").isPositive();
    for (int i = 0; i < 200; i++) {
      assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("but that shard does not hold it");
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);

    Files.writeString(index, text);
    for (int i = 0; i < 200; i++) {
      Checkpoint.open(dir).close();
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);
    Checkpoint c = Checkpoint.open(dir);
    assertThat(c.floats("model.norm.weight", 0, 1)).containsExactly(1.0f);
    c.close();
    assertThatThrownBy(() -> c.floats("model.norm.weight", 0, 1)).isInstanceOf(ClosedChannelException.class);
    assertThatThrownBy(() -> c.floats("model.embed_tokens.weight", 0, 1)).isInstanceOf(ClosedChannelException.class);
  }

  @Test
  void writesShardsAndAnIndexThatReadBack(@TempDir Path tmp) throws IOException {
    List<TensorData> tensors = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      float[] v = new float[100];
      java.util.Arrays.fill(v, i);
      tensors.add(TensorData.f32("model.layers." + i + ".w", new long[] {10, 10}, v));
    }
    Path dir = tmp.resolve("out");
    List<Path> files = CheckpointWriter.write(dir, tensors, 900, Map.of("format", "pt"));
    assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly("model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json");
    try (Checkpoint c = Checkpoint.open(dir)) {
      assertThat(c.tensors()).hasSize(5);
      assertThat(c.floats("model.layers.4.w")[99]).isEqualTo(4f);
    }
    assertThat(Files.readString(dir.resolve(Checkpoint.INDEX_FILE))).contains("\"total_size\" : 2000");
    Path single = tmp.resolve("single");
    assertThat(CheckpointWriter.write(single, tensors, CheckpointWriter.DEFAULT_MAX_SHARD_BYTES, Map.of()))
        .extracting(p -> p.getFileName().toString()).containsExactly("model.safetensors");
  }

  @Test
  void aShardHoldsTensorsUpToExactlyTheLimit() {
    assertThat(CheckpointWriter.split(List.of(400L, 600L), Long::longValue, 1000)).as("exactly the limit")
        .containsExactly(List.of(400L, 600L));
    assertThat(CheckpointWriter.split(List.of(400L, 601L), Long::longValue, 1000)).as("one byte more")
        .containsExactly(List.of(400L), List.of(601L));
    assertThat(CheckpointWriter.split(List.of(1500L, 10L, 990L, 1L), Long::longValue, 1000))
        .as("a tensor larger than the limit alone").containsExactly(List.of(1500L), List.of(10L, 990L), List.of(1L));
    assertThat(CheckpointWriter.split(List.<Long>of(), Long::longValue, 1000)).as("no tensors: one empty shard")
        .containsExactly(List.of());
  }

  @Test
  void tensorDataMustHoldExactlyItsShapesBytes() {
    assertThatThrownBy(() -> new TensorData("w", DType.F32, new long[] {2, 3}, ByteBuffer.allocate(20)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("w: F32[2, 3] needs 24 bytes, got 20");
    assertThatThrownBy(() -> new TensorData("w", DType.BF16, new long[] {3}, ByteBuffer.allocate(8)))
        .hasMessage("w: BF16[3] needs 6 bytes, got 8");
    assertThatThrownBy(() -> new TensorData("w", DType.F32, new long[] {2, -3}, ByteBuffer.allocate(0)))
        .hasMessage("w: negative dimension in [2, -3]");
    assertThat(new TensorData("w", DType.I64, new long[] {2, 3}, ByteBuffer.allocate(48)).bytes()).isEqualTo(48);
  }

  @Test
  void directoriesAreReplacedWholeOrNotAtAll(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("model");
    AtomicDirectory.write(target, d -> Files.writeString(d.resolve("config.json"), "{\"v\": 1}"));
    assertThat(Files.readString(target.resolve("config.json"))).isEqualTo("{\"v\": 1}");

    assertThatThrownBy(() -> AtomicDirectory.write(target, d -> {
      Files.writeString(d.resolve("config.json"), "{\"v\": 2}");
      throw new IOException("disk full halfway");
    })).hasMessage("disk full halfway");
    assertThat(Files.readString(target.resolve("config.json"))).as("the old model is intact").isEqualTo("{\"v\": 1}");
    assertThat(tmp.toFile().list()).as("no staging left").containsExactly("model");

    Files.createDirectory(tmp.resolve(".model.staging-crashed"));
    AtomicDirectory.write(target, d -> Files.writeString(d.resolve("config.json"), "{\"v\": 3}"));
    assertThat(Files.readString(target.resolve("config.json"))).isEqualTo("{\"v\": 3}");
    assertThat(tmp.toFile().list()).as("a crashed write's leftovers are removed").containsExactly("model");
  }
}
