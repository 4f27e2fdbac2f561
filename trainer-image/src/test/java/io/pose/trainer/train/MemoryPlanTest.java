package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Percentage.withPercentage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The memory plan against the published arithmetic: DeepSpeed's own estimators (tools/reference/zero_memory.py
 * runs their code) for Mistral-7B and Llama-2-7B, the ZeRO paper's bytes per parameter per stage, and the
 * decisions it makes for the reference run (Mistral-7B at 8k on 8 GPUs).
 */
class MemoryPlanTest {

  static final Path CONFIGS = Path.of("src/test/resources/reference/configs");
  static final long GB = 1_000_000_000L;
  static final long GIB = 1L << 30;

  static ModelConfig config(String model) throws IOException {
    return HfConfigs.read(CONFIGS.resolve(model + ".json"));
  }

  static MemoryPlan plan(ModelConfig c, int world, int stage, int micro, int window, boolean recompute) {
    return MemoryPlan.of(new MemoryPlan.Inputs(c, world, stage, ComputeType.BF16, micro, window, recompute, true));
  }

  @Test
  void parameterCountsAndDeepSpeedsEstimatesAgreeWithDeepSpeed() throws IOException {
    JsonNode ref = new ObjectMapper().readTree(Path.of("src/test/resources/reference/zero_memory.json").toFile());
    int checked = 0;
    for (JsonNode c : ref.get("cases")) {
      String model = switch (c.get("model").asText()) {
        case "mistral-7b" -> "mistral-7b-v0.1";
        case "llama-2-7b" -> "llama-2-7b-hf";
        default -> null;
      };
      if (model == null) {
        continue;
      }
      ModelConfig config = config(model);
      int gpus = c.get("gpusPerNode").asInt() * c.get("nodes").asInt();
      assertThat(MemoryPlan.totalParameters(config)).as(model).isEqualTo(c.get("totalParams").asLong());
      assertThat(MemoryPlan.deepSpeedModelStates(config, 2, gpus)).as("%s ZeRO-2 on %d GPUs", model, gpus)
          .isEqualTo(c.get("zero2GpuBytes").asLong());
      assertThat(MemoryPlan.deepSpeedModelStates(config, 3, gpus)).as("%s ZeRO-3 on %d GPUs", model, gpus)
          .isEqualTo(c.get("zero3GpuBytes").asLong());
      checked++;
    }
    assertThat(checked).isEqualTo(6);
  }

  /** 16 bytes a parameter (4 weights + 4 gradients + 8 moments), divided over the ranks stage by stage. */
  @Test
  void modelStatesFollowTheZeroPaper() throws IOException {
    ModelConfig mistral = config("mistral-7b-v0.1");
    long p = MemoryPlan.totalParameters(mistral);
    int n = 8;
    long[] expected = {16 * p, 8 * p + 8 * p / n, 4 * p + 12 * p / n, 16 * p / n};
    for (int stage = 0; stage <= 3; stage++) {
      // padding to aligned shards adds a few elements per tensor: far below 0.01%
      assertThat(plan(mistral, n, stage, 1, 8192, true).modelStates()).as("ZeRO %d", stage)
          .isCloseTo(expected[stage], withPercentage(0.01));
    }
    // the arithmetic: about 14.5 GB of model states per GPU of 116 GB in all
    assertThat(16 * p).isCloseTo(116 * GB, withPercentage(0.2));
    assertThat(plan(mistral, n, 3, 1, 8192, true).modelStates()).isCloseTo(14_483_000_000L, withPercentage(0.1));
    // DeepSpeed's ZeRO-3 figure = its 18 bytes a parameter / N + 4 x its largest layer: ours keeps no separate
    // half-precision copies, so it is 2 bytes a parameter / N and the largest layer's 4 bytes lighter
    long largest = (long) mistral.vocabSize() * mistral.hiddenSize();
    assertThat(MemoryPlan.deepSpeedModelStates(mistral, 3, n) - 4 * largest - 2 * p / n)
        .isCloseTo(plan(mistral, n, 3, 1, 8192, true).modelStates(), withPercentage(0.01));
  }

  /** The reference run: Mistral-7B, 8k window, micro batch 1, bf16, recomputation, ZeRO-3 on 8 GPUs. */
  @Test
  void theReferenceRunFits48And80GigabyteGpusAndTheRestIsRefusedWithWhatWouldFit() throws IOException {
    ModelConfig mistral = config("mistral-7b-v0.1");
    MemoryPlan reference = plan(mistral, 8, 3, 1, 8192, true);
    assertThat(reference.total()).isLessThan(48 * GB).isGreaterThan(30 * GB);

    // one GPU cannot hold ZeRO-0's 116 GB of model states; the plan names what would fit
    MemoryPlan zero0 = plan(mistral, 8, 0, 1, 8192, true);
    assertThat(zero0.total()).isGreaterThan(116 * GB);
    List<String> fits = zero0.alternatives(80 * GB, 8);
    assertThat(fits).isNotEmpty();
    assertThat(fits.get(0)).startsWith("spec.training.zeroStage: 2");

    // without recomputation every layer's activations are kept: 8k tokens of 32 layers do not fit in 80 GB
    MemoryPlan kept = plan(mistral, 8, 3, 1, 8192, false);
    assertThat(kept.total()).isGreaterThan(80 * GB);
    assertThat(kept.alternatives(80 * GB, 8)).anyMatch(s -> s.startsWith("spec.training.activationCheckpointing: true"));

    // ZeRO-3 on a single 48 GB GPU: more ranks are what would fit
    MemoryPlan alone = plan(mistral, 1, 3, 1, 8192, true);
    assertThat(alone.total()).isGreaterThan(100 * GB);
    assertThat(alone.alternatives(48 * GB, 1)).anyMatch(s -> s.contains("nodes of 1 ranks at ZeRO 3"));

    // the table names every part and the device's share
    String table = reference.table(80 * GB);
    assertThat(table).contains("weights (fp32 master)", "gathered weights", "activations", "logits and loss",
        "CUDA runtime", "peak", "% of").contains("8 ranks, ZeRO 3, bf16, micro batch 1 x 8192 tokens");
  }

  /** Activations scale with the tokens; recomputation keeps one layer's worth instead of all of them. */
  @Test
  void activationsScaleWithTokensAndRecomputationBoundsThem() throws IOException {
    ModelConfig llama = config("llama-2-7b-hf");
    long at2k = line(plan(llama, 8, 3, 1, 2048, false), "activations");
    long at4k = line(plan(llama, 8, 3, 1, 4096, false), "activations");
    long weightCasts = llama.numHiddenLayers() * MemoryPlan.largestLayerCastBytes(llama, ComputeType.BF16);
    assertThat((double) (at4k - weightCasts) / (at2k - weightCasts)).isCloseTo(2.0, withPercentage(0.1));
    long recomputed = line(plan(llama, 8, 3, 1, 4096, true), "activations");
    assertThat(recomputed).isLessThan(at4k / 8);
    long perToken = MemoryPlan.activationBytesPerToken(llama, ComputeType.BF16);
    // Korthikanti et al. count 34 h bytes a token for a GPT layer in half precision (4 h MLP); SwiGLU with an
    // 11008-wide MLP, fp32 residuals and autocast's copies make a Llama layer heavier, within a small multiple
    assertThat(perToken).isBetween(34L * llama.hiddenSize(), 4 * 34L * llama.hiddenSize());
  }

  static long line(MemoryPlan p, String what) {
    return p.lines().stream().filter(l -> l.what().equals(what)).findFirst().orElseThrow().bytes();
  }
}
