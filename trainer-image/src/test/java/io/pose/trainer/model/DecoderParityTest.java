package io.pose.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.Tolerances;
import io.pose.trainer.kernels.Ops;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java decoder computes what transformers computes (tools/reference/make_tiny_models.py): logits, loss and
 * weight gradients, for plain positions and for PoSE positions far beyond the original window, on Llama (MHA),
 * Llama with grouped-query heads and tied embeddings, Llama with YaRN, and Mistral with a sliding window.
 */
class DecoderParityTest {

  static final Path MODELS = Path.of("src/test/resources/tiny-models");

  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama-gqa-tied", "llama-yarn", "mistral-swa"})
  void matchesTransformers(String name) throws IOException {
    Path dir = MODELS.resolve(name);
    JsonNode reference = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    for (String run : new String[] {"plain", "pose"}) {
      try (NDManager m = NDManager.newBaseManager(); Checkpoint checkpoint = Checkpoint.open(dir)) {
        DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
        weights.all().values().forEach(w -> w.setRequiresGradient(true));
        Decoder decoder = new Decoder(config, weights);
        JsonNode expected = reference.get(run);
        long[][] ids = longs2(reference.get("ids"));
        NDArray idArray = m.create(flatten(ids), new Shape(ids.length, ids[0].length));
        int[][] positions = ints2(expected.get("positions"));
        NDArray logits;
        NDArray loss;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          logits = decoder.forward(idArray, positions);
          loss = Ops.causalLmLossFused(logits, idArray);
          gc.backward(loss);
        }
        String what = name + " (" + run + ")";
        assertThat(logits.getShape().getShape()).containsExactly(longs(expected.get("logitsShape")));
        Tolerances.assertClose(what + " logits", logits.toFloatArray(), expected.get("logits"), 1e-4);
        assertThat((double) loss.getFloat()).as(what + " loss").isCloseTo(expected.get("loss").asDouble(),
            org.assertj.core.data.Offset.offset(1e-5 * Math.abs(expected.get("loss").asDouble())));
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.get("gradients").fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> g = it.next();
          NDArray grad = weights.get(g.getKey()).getGradient();
          Tolerances.assertClose(what + " gradient of " + g.getKey(), grad.toFloatArray(), g.getValue().get("values"), 1e-4);
        }
      }
    }
  }

  private static long[] longs(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }

  private static long[][] longs2(JsonNode a) {
    long[][] out = new long[a.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = longs(a.get(i));
    }
    return out;
  }

  private static int[][] ints2(JsonNode a) {
    int[][] out = new int[a.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = new int[a.get(i).size()];
      for (int j = 0; j < out[i].length; j++) {
        out[i][j] = a.get(i).get(j).asInt();
      }
    }
    return out;
  }

  private static long[] flatten(long[][] a) {
    return java.util.Arrays.stream(a).flatMapToLong(java.util.Arrays::stream).toArray();
  }
}
