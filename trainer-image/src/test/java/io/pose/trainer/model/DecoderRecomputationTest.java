package io.pose.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.Autograd;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Layer-wise activation recomputation gives the same loss and the same gradients, bit for bit, as keeping every
 * activation: the backward recomputes each layer from its saved input exactly as the forward computed it. (A tied
 * embedding's two gradient contributions are summed in another order: equal to rounding.)
 */
class DecoderRecomputationTest {

  static final long[] IDS = {1, 17, 42, 5, 99, 3, 77, 60, 11, 23, 90, 8, 1, 64, 2, 127, 31, 8, 8, 45, 19, 100, 7, 33};
  static final int[][] POSE = {{0, 1, 2, 3, 4, 180, 181, 182, 183, 184, 185, 186},
      {0, 1, 2, 150, 151, 152, 153, 154, 155, 156, 157, 158}};

  record Outcome(double loss, Map<String, float[]> gradients) {}

  static Outcome run(String model, ComputeType type, boolean recompute) throws IOException {
    Path dir = DecoderParityTest.MODELS.resolve(model);
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    try (NDManager m = NDManager.newBaseManager(); Checkpoint checkpoint = Checkpoint.open(dir)) {
      DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
      weights.all().values().forEach(w -> w.setRequiresGradient(true));
      Decoder decoder = new Decoder(config, weights, type);
      NDArray ids = m.create(IDS, new Shape(2, 12));
      double loss = 0;
      // two micro-batches: the gradients accumulate the same way too
      for (int micro = 0; micro < 2; micro++) {
        try (NDManager scope = m.newSubManager()) {
          NDArray batch = ids.duplicate();
          batch.attach(scope);
          loss += decoder.lossAndGradients(batch, POSE, batch, 0.5, recompute);
        }
      }
      Map<String, float[]> gradients = new LinkedHashMap<>();
      weights.all().forEach((name, w) -> gradients.put(name, w.getGradient().toFloatArray()));
      assertThat(Autograd.recording()).as("recording restored").isFalse();
      return new Outcome(loss, gradients);
    }
  }

  @ParameterizedTest
  @CsvSource({"llama, FP32", "llama-gqa-tied, FP32", "mistral-swa, FP32", "llama-yarn, BF16", "mistral-swa, FP16"})
  void sameLossAndGradientsAsKeepingEveryActivation(String model, ComputeType type) throws IOException {
    Outcome kept = run(model, type, false);
    Outcome recomputed = run(model, type, true);
    assertThat(recomputed.loss()).isEqualTo(kept.loss());
    assertThat(recomputed.gradients().keySet()).containsExactlyElementsOf(kept.gradients().keySet());
    kept.gradients().forEach((name, g) -> {
      if (model.endsWith("-tied") && name.equals("model.embed_tokens.weight")) {
        // a tied weight sums two contributions, which arrive in one backward or in two: (g + a) + b, not g + (a + b)
        float[] r = recomputed.gradients().get(name);
        for (int i = 0; i < g.length; i++) {
          assertThat(r[i]).as("%s[%d]", name, i).isCloseTo(g[i], org.assertj.core.data.Offset.offset(1e-6f));
        }
      } else {
        assertThat(recomputed.gradients().get(name)).as(name).containsExactly(g);
      }
    });
    assertThat(kept.gradients().values()).as("the gradients are not all zero")
        .anySatisfy(g -> assertThat(g).isNotEqualTo(new float[g.length]));
  }
}
