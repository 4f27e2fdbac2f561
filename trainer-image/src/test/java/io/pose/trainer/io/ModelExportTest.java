package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
}
