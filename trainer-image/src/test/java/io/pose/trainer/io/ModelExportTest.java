package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.ConfigExtension;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.rope.RopeType;
import io.pose.trainer.Tolerances;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model directory the trainer writes loads in transformers (tools/reference/check_exported_model.py), which
 * reads the extended RoPE from it and computes the logits the Java decoder computes from the same files.
 */
class ModelExportTest {

  static final Path BASE = Path.of("src/test/resources/tiny-models/llama");
  static final Path COMMITTED = Path.of("src/test/resources/tiny-models/exported-llama-yarn");

  /** The exported weights: the base's, changed by plain float arithmetic (deterministic on any CPU). */
  static Map<String, NDArray> weights(NDManager m) throws IOException {
    ModelConfig base = HfConfigs.read(BASE.resolve("config.json"));
    Map<String, NDArray> out = new LinkedHashMap<>();
    try (Checkpoint c = Checkpoint.open(BASE)) {
      for (String name : DecoderWeights.expectedShapes(base).keySet()) {
        float[] v = c.floats(name);
        for (int i = 0; i < v.length; i++) {
          v[i] = v[i] * 1.25f + 0.001f;
        }
        out.put(name, m.create(v, new Shape(c.info(name).shape())));
      }
    }
    return out;
  }

  static final ConfigExtension.Plan PLAN = ConfigExtension.Plan.of(64, 256, ConfigExtension.Scaling.YARN);

  @Test
  void writesTheCommittedDirectoryByteForByte(@TempDir Path tmp) throws IOException {
    Path target = Boolean.getBoolean("pose.updateFixtures") ? COMMITTED : tmp.resolve("exported");
    try (NDManager m = NDManager.newBaseManager()) {
      ModelExport.write(BASE, PLAN, weights(m), target, CheckpointWriter.DEFAULT_MAX_SHARD_BYTES);
    }
    List<String> files;
    try (var listing = Files.list(COMMITTED)) {
      files = listing.map(p -> p.getFileName().toString()).sorted().toList();
    }
    assertThat(files).containsExactly("config.json", "generation_config.json", "model.safetensors", "tokenizer.json");
    for (String f : files) {
      assertThat(Files.readAllBytes(target.resolve(f))).as(f).isEqualTo(Files.readAllBytes(COMMITTED.resolve(f)));
    }
  }

  @Test
  void transformersComputesWhatTheJavaDecoderComputesFromTheExportedModel() throws IOException {
    JsonNode check = new ObjectMapper().readTree(COMMITTED.getParent().resolve("exported-llama-yarn-check.json").toFile());
    assertThat(check.get("ropeParameters").get("rope_type").asText()).isEqualTo("yarn");
    assertThat(check.get("maxPositionEmbeddings").asInt()).isEqualTo(256);
    ModelConfig config = HfConfigs.read(COMMITTED.resolve("config.json"));
    assertThat(config.rope().type()).isEqualTo(RopeType.YARN);
    try (NDManager m = NDManager.newBaseManager(); Checkpoint c = Checkpoint.open(COMMITTED)) {
      Decoder decoder = new Decoder(config, DecoderWeights.load(config, c, m));
      JsonNode ids = check.get("ids");
      long[] flat = new long[ids.size() * ids.get(0).size()];
      int[][] positions = new int[ids.size()][ids.get(0).size()];
      for (int b = 0; b < ids.size(); b++) {
        for (int t = 0; t < ids.get(0).size(); t++) {
          flat[b * ids.get(0).size() + t] = ids.get(b).get(t).asLong();
          positions[b][t] = check.get("positions").get(b).get(t).asInt();
        }
      }
      NDArray logits = decoder.forward(m.create(flat, new Shape(ids.size(), ids.get(0).size())), positions);
      Tolerances.assertClose("logits of the exported model", logits.toFloatArray(), check.get("logits"), 1e-4);
    }
  }

  static List<String> listing(Path root) {
    try (var walk = Files.walk(root)) {
      return walk.filter(p -> !p.equals(root)).map(p -> root.relativize(p).toString()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The source, noting each range read as "name begin+count". */
  static TensorSource recording(TensorSource source, Collection<String> reads) {
    return new TensorSource() {
      @Override
      public boolean has(String name) {
        return source.has(name);
      }

      @Override
      public long[] shape(String name) {
        return source.shape(name);
      }

      @Override
      public float[] floats(String name, long begin, int count) throws IOException {
        reads.add(name + " " + begin + "+" + count);
        return source.floats(name, begin, count);
      }

      @Override
      public String describe() {
        return source.describe();
      }
    };
  }

  static final String[] SHARDS = {"model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
      "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors"};

  /**
   * Two ranks write the shards in turn (rank r shards r, r + 2), meeting at three barriers: the staging directory
   * ready and empty, every shard in it, the model in place. What they write is what one process writes.
   */
  @Test
  void twoRanksShareTheShardsAndWriteWhatOneProcessWrites(@TempDir Path tmp) throws Exception {
    Path one = Files.createDirectories(tmp.resolve("one")).resolve("model");
    Path two = Files.createDirectories(tmp.resolve("two"));
    long maxShardBytes = 40_000; // the 115328 bytes of the tiny llama in four shards
    try (Checkpoint c = Checkpoint.open(BASE)) {
      List<String> names = new ArrayList<>(c.tensors().keySet());
      ModelExport.write(BASE, PLAN, c, names, one, maxShardBytes, ModelExport.Part.WHOLE);

      List<List<String>> atBarriers = Collections.synchronizedList(new ArrayList<>());
      CyclicBarrier barrier = new CyclicBarrier(2, () -> atBarriers.add(listing(two)));
      List<List<String>> reads = List.of(Collections.synchronizedList(new ArrayList<>()),
          Collections.synchronizedList(new ArrayList<>()));
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        List<Future<?>> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
          int rank = r;
          Runnable await = () -> {
            try {
              barrier.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
              throw new IllegalStateException("rank " + rank + " at a barrier", e);
            }
          };
          ranks.add(pool.submit(() -> {
            try {
              ModelExport.write(BASE, PLAN, recording(c, reads.get(rank)), names, two.resolve("model"), maxShardBytes,
                  new ModelExport.Part(rank, 2, await));
            } catch (IOException | RuntimeException e) {
              barrier.reset(); // the other rank stops waiting
              throw e;
            }
            return null;
          }));
        }
        for (Future<?> rank : ranks) {
          rank.get(120, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }

      List<String> staged = new ArrayList<>(List.of(".model.staging-shared"));
      for (String shard : SHARDS) {
        staged.add(".model.staging-shared/" + shard);
      }
      List<String> exported = new ArrayList<>(List.of("model", "model/config.json", "model/generation_config.json"));
      for (String shard : SHARDS) {
        exported.add("model/" + shard);
      }
      exported.addAll(List.of("model/model.safetensors.index.json", "model/tokenizer.json"));
      assertThat(atBarriers).containsExactly(List.of(".model.staging-shared"), staged, exported);

      for (String file : listing(one)) {
        assertThat(Files.readAllBytes(two.resolve("model").resolve(file))).as(file)
            .isEqualTo(Files.readAllBytes(one.resolve(file)));
      }
      JsonNode index = new ObjectMapper().readTree(two.resolve("model").resolve(Checkpoint.INDEX_FILE).toFile());
      assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(115_328);
      List<Set<String>> expected = List.of(new TreeSet<>(), new TreeSet<>());
      index.get("weight_map").fields().forEachRemaining(e -> {
        int shard = List.of(SHARDS).indexOf(e.getValue().asText());
        assertThat(shard).as(e.getKey()).isNotNegative();
        expected.get(shard % 2).add(e.getKey());
      });
      assertThat(expected.get(0)).as("shards 1 and 3").contains("lm_head.weight", "model.layers.1.self_attn.o_proj.weight");
      assertThat(expected.get(1)).as("shards 2 and 4").contains("model.layers.0.mlp.down_proj.weight", "model.norm.weight");
      assertThat(expected.get(0).size() + expected.get(1).size()).as("every tensor listed once").isEqualTo(names.size());
      for (int rank = 0; rank < 2; rank++) {
        Set<String> read = new TreeSet<>();
        reads.get(rank).forEach(r -> read.add(r.substring(0, r.indexOf(' '))));
        assertThat(read).as("rank " + rank + " reads its shards' tensors").isEqualTo(expected.get(rank));
      }
      try (Checkpoint back = Checkpoint.open(two.resolve("model"))) {
        assertThat(back.floats("model.norm.weight")).containsExactly(c.floats("model.norm.weight"));
      }
    }
  }

  /** Tensors are read and converted a bounded chunk at a time; the file is the one written in a single chunk. */
  @Test
  void convertsAChunkAtATime(@TempDir Path tmp) throws IOException {
    Path base = Files.createDirectories(tmp.resolve("base-bf16"));
    ObjectNode config = (ObjectNode) new ObjectMapper().readTree(BASE.resolve("config.json").toFile());
    config.put("torch_dtype", "bfloat16");
    Files.writeString(base.resolve("config.json"), config.toString());
    try (Checkpoint c = Checkpoint.open(BASE)) {
      List<String> names = List.of("model.norm.weight", "model.layers.0.self_attn.q_proj.weight");
      List<String> reads = new ArrayList<>();
      ModelExport.write(base, PLAN, recording(c, reads), names, tmp.resolve("chunked"),
          CheckpointWriter.DEFAULT_MAX_SHARD_BYTES, ModelExport.Part.WHOLE, 10);
      assertThat(reads).filteredOn(r -> r.startsWith("model.norm.weight")).containsExactly("model.norm.weight 0+10",
          "model.norm.weight 10+10", "model.norm.weight 20+10", "model.norm.weight 30+2");
      assertThat(reads).filteredOn(r -> r.startsWith("model.layers")).hasSize(103)
          .endsWith("model.layers.0.self_attn.q_proj.weight 1020+4");
      ModelExport.write(base, PLAN, c, names, tmp.resolve("whole"), CheckpointWriter.DEFAULT_MAX_SHARD_BYTES,
          ModelExport.Part.WHOLE);
      assertThat(Files.readAllBytes(tmp.resolve("chunked").resolve("model.safetensors")))
          .isEqualTo(Files.readAllBytes(tmp.resolve("whole").resolve("model.safetensors")));
      try (Checkpoint back = Checkpoint.open(tmp.resolve("chunked"))) {
        assertThat(back.info("model.norm.weight").dtype()).isEqualTo(DType.BF16);
        float[] expected = c.floats("model.norm.weight");
        for (int i = 0; i < expected.length; i++) {
          expected[i] = Floats.bf16ToFloat(Floats.floatToBf16(expected[i]));
        }
        assertThat(back.floats("model.norm.weight")).containsExactly(expected);
      }
    }
  }

  /** What a crashed export left in the staging directory never reaches the model. */
  @Test
  void aCrashedExportsLeftoversAreNotExported(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("exported");
    Path staging = Files.createDirectories(AtomicDirectory.sharedStaging(target));
    Files.writeString(staging.resolve("model-00001-of-00002.safetensors"), "half a shard");
    try (Checkpoint c = Checkpoint.open(BASE)) {
      ModelExport.write(BASE, PLAN, c, new ArrayList<>(c.tensors().keySet()), target,
          CheckpointWriter.DEFAULT_MAX_SHARD_BYTES, ModelExport.Part.WHOLE);
    }
    assertThat(listing(target)).as("one shard, no index").containsExactly("config.json", "generation_config.json",
        "model.safetensors", "tokenizer.json");
    assertThat(listing(tmp)).containsExactly("exported", "exported/config.json", "exported/generation_config.json",
        "exported/model.safetensors", "exported/tokenizer.json");
  }

  @Test
  void theDtypeIsTheBaseModelsTorchDtypeOrDtypeOrFp32() throws IOException {
    ObjectMapper json = new ObjectMapper();
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{\"torch_dtype\": \"bfloat16\"}"))).isEqualTo(DType.BF16);
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{\"torch_dtype\": \"float16\", \"dtype\": \"bfloat16\"}")))
        .as("transformers v4's key first").isEqualTo(DType.F16);
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{\"torch_dtype\": null, \"dtype\": \"float16\"}")))
        .as("a null torch_dtype is unsaid").isEqualTo(DType.F16);
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{\"dtype\": \"bfloat16\"}"))).isEqualTo(DType.BF16);
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{\"torch_dtype\": null}"))).isEqualTo(DType.F32);
    assertThat(ModelExport.dtypeOf((ObjectNode) json.readTree("{}"))).isEqualTo(DType.F32);
    assertThatThrownBy(() -> ModelExport.dtypeOf((ObjectNode) json.readTree("{\"torch_dtype\": \"int8\"}")))
        .isInstanceOf(CheckpointException.class)
        .hasMessage("config.json: dtype \"int8\" is not one of bfloat16, float16, float32");
  }
}
