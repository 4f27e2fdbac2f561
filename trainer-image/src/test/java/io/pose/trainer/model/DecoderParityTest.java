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
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.Ops;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java decoder computes what transformers computes (tools/reference/make_tiny_models.py): logits, loss and
 * weight gradients, for plain positions and for PoSE positions far beyond the original window, on Llama (MHA),
 * Llama with grouped-query heads and tied embeddings, Llama with YaRN, and Mistral with a sliding window.
 */
class DecoderParityTest {

  static final Path MODELS = Path.of("src/test/resources/tiny-models");

  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama-gqa-tied", "llama-yarn", "mistral-swa", "llama-dynamic"})
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

  /**
   * Under mixed precision the decoder computes what transformers computes under torch.autocast
   * (tools/reference/autocast_reference.py), and in bf16 clearly closer to it than to the fp32 results: the products
   * really run in the low precision, with autocast's casts.
   */
  @ParameterizedTest
  @CsvSource({"llama, BF16", "llama-gqa-tied, BF16", "llama-yarn, BF16", "mistral-swa, BF16", "llama, FP16",
      "mistral-swa, FP16"})
  void matchesTransformersUnderAutocast(String name, ComputeType type) throws IOException {
    Path dir = MODELS.resolve(name);
    JsonNode autocast = new ObjectMapper().readTree(dir.resolve("reference_autocast.json").toFile())
        .get(type.name().toLowerCase(java.util.Locale.ROOT));
    JsonNode fp32 = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    for (String run : new String[] {"plain", "pose"}) {
      try (NDManager m = NDManager.newBaseManager(); Checkpoint checkpoint = Checkpoint.open(dir)) {
        DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
        weights.all().values().forEach(w -> w.setRequiresGradient(true));
        Decoder decoder = new Decoder(config, weights, type);
        JsonNode expected = autocast.get(run);
        long[][] ids = longs2(fp32.get("ids"));
        NDArray idArray = m.create(flatten(ids), new Shape(ids.length, ids[0].length));
        NDArray logits;
        NDArray loss;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          logits = decoder.forward(idArray, ints2(expected.get("positions")));
          loss = Ops.causalLmLossFused(logits, idArray);
          gc.backward(loss);
        }
        String what = name + " " + type + " (" + run + ")";
        float[] actual = logits.toFloatArray();
        double toAutocast = rmsDeviation(actual, expected.get("logits"));
        double toFp32 = rmsDeviation(actual, fp32.get(run).get("logits"));
        // the products must really run in this precision: measurably closer to autocast in it than to fp32 and
        // than to autocast in the other half precision (fp16 moves the logits little from fp32, so fp32 run for
        // fp16 would pass the tolerance alone; bf16 run for fp16 would too, closer to bf16's autocast)
        String other = type == ComputeType.BF16 ? "fp16" : "bf16";
        double toOther = rmsDeviation(actual, new ObjectMapper().readTree(dir.resolve("reference_autocast.json")
            .toFile()).get(other).get(run).get("logits"));
        if (Boolean.getBoolean("parity.verbose")) {
          System.err.printf("%s: to autocast %.3g, to fp32 %.3g, to %s autocast %.3g%n", what, toAutocast, toFp32,
              other, toOther);
        }
        assertThat(toAutocast).as(what + ": logits closer to autocast's than to fp32's").isLessThan(0.75 * toFp32);
        assertThat(toAutocast).as(what + ": logits closer to autocast's than to " + other + " autocast's")
            .isLessThan(0.75 * toOther);
        assertThat(toAutocast / rms(expected.get("logits"))).as(what + " logits, relative RMS deviation")
            .isLessThan(TOLERANCE.get(type));
        assertThat((double) loss.getFloat()).as(what + " loss").isCloseTo(expected.get("loss").asDouble(),
            org.assertj.core.data.Offset.offset(1e-3 * Math.abs(expected.get("loss").asDouble())));
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.get("gradients").fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> g = it.next();
          float[] gradient = weights.get(g.getKey()).getGradient().toFloatArray();
          assertThat(rmsDeviation(gradient, g.getValue().get("values")) / rms(g.getValue().get("values")))
              .as(what + " gradient of " + g.getKey() + ", relative RMS deviation").isLessThan(4 * TOLERANCE.get(type));
        }
      }
    }
  }

  /**
   * Bounds on the RMS deviation relative to the RMS of the values: libtorch 2.7 and the reference's torch round and
   * accumulate the low-precision products differently, which the layers compound (bf16 keeps 8 significant bits,
   * fp16 11; a wrong cast or a missed gradient path shows as an error of order 1). Gradients go through the
   * low-precision products twice more (the backward), hence 4 times the bound.
   */
  static final Map<ComputeType, Double> TOLERANCE = Map.of(ComputeType.BF16, 0x1p-5, ComputeType.FP16, 0x1p-8);

  private static double rms(JsonNode values) {
    double sum = 0;
    for (JsonNode v : values) {
      sum += v.asDouble() * v.asDouble();
    }
    return Math.sqrt(sum / values.size());
  }

  private static double rmsDeviation(float[] actual, JsonNode expected) {
    assertThat(actual).hasSize(expected.size());
    double sum = 0;
    for (int i = 0; i < actual.length; i++) {
      double d = actual[i] - expected.get(i).asDouble();
      sum += d * d;
    }
    return Math.sqrt(sum / actual.length);
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
