package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The memory plan line by line against its census, the count of what one rank holds at its peak that
 * docs/trainer.md ("Memory plan: the census") writes down. MemoryPlanTest checks the plan against published
 * arithmetic and measured runs, to within percents; this test holds every term of the census to the byte, over
 * every stage, precision, recomputation setting and a grid of shapes, so that a changed constant, a term dropped or
 * a stage's rule moved is seen even where it moves the total by less than a percent. The census is written out
 * here again from the document, term by term, not taken from MemoryPlan.
 */
class MemoryPlanCensusTest {

  /**
   * Shapes chosen so that every term is distinct: grouped-query attention (kv < heads), a head dim that is not
   * hidden / heads, an MLP wider than the vocabulary in one and narrower in the other, untied and tied heads, and a
   * root unit larger than a layer in one and smaller in the other.
   */
  static final List<ModelConfig> SHAPES = List.of(
      shape(96, 320, 3, 6, 2, 24, 200, false),
      shape(64, 176, 2, 4, 4, 16, 1000, true),
      shape(128, 512, 4, 8, 1, 32, 96, false));

  static ModelConfig shape(int h, int inter, int layers, int heads, int kv, int headDim, int vocab, boolean tied) {
    String json = """
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": %d, "intermediate_size": %d,
         "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "head_dim": %d,
         "vocab_size": %d, "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
         "tie_word_embeddings": %s}
        """.formatted(h, inter, layers, heads, kv, headDim, vocab, tied);
    return HfConfigs.parse(json, "census shape");
  }

  /** The census's bytes per token of one decoder layer: each tensor a layer keeps from its forward to its backward. */
  static long layerBytesPerToken(ModelConfig c, ComputeType compute) {
    long h = c.hiddenSize();
    long heads = c.numAttentionHeads();
    long q = heads * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long inter = c.intermediateSize();
    long b = compute == ComputeType.FP32 ? 4 : 2;
    boolean half = compute != ComputeType.FP32;
    Map<String, Long> terms = new LinkedHashMap<>();
    terms.put("fp32: the two norms' outputs, the normalized inputs they save, the two residual sums", 6 * h * 4);
    terms.put("o_proj and down_proj outputs", 2 * h * b);
    terms.put("autocast copies of the normed inputs of q, k, v, gate, up", half ? 5 * h * b : 0);
    terms.put("q: projection, rotated in fp32, cast back", q * b + q * 4 + (half ? q * b : 0));
    terms.put("k: projection, rotated in fp32, cast back", kv * b + kv * 4 + (half ? kv * b : 0));
    terms.put("v: projection", kv * b);
    terms.put("attention output and its [B, T, heads x d] copy", 2 * q * b);
    terms.put("attention's log-sum-exp, fp32 a head", 4 * heads);
    terms.put("gate, up, silu(gate), their product", 4 * inter * b);
    return terms.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The census's expected lines, in the plan's order. */
  static Map<String, Long> census(MemoryPlan.Inputs in) {
    ShardLayout layout = ShardLayout.of(in.model(), in.world());
    List<ShardLayout.Unit> units = layout.units();
    long all = units.stream().mapToLong(ShardLayout.Unit::flatSize).sum();
    long shards = units.stream().mapToLong(ShardLayout.Unit::shardSize).sum();
    long root = units.get(0).flatSize();
    long layer = units.stream().skip(1).mapToLong(ShardLayout.Unit::flatSize).max().orElseThrow();
    ModelConfig c = in.model();
    int stage = in.zeroStage();
    ComputeType compute = in.compute();
    long b = compute == ComputeType.FP32 ? 4 : 2;
    Map<String, Long> lines = new LinkedHashMap<>();
    lines.put("weights (fp32 master)", 4 * (stage >= 3 ? shards : all));
    lines.put("gradients (fp32)", 4 * (stage >= 2 ? shards : all));
    lines.put("AdamW moments (fp32)", 8 * (stage >= 1 ? shards : all));
    long gathered = 0;
    if (stage == 3) {
      gathered = 4 * (in.recompute() ? root + layer + layer : all);
      lines.put("gathered weights", gathered);
    }
    if (stage >= 2) {
      lines.put("unit gradients in flight", 4 * (layer + layer + layer) + 4 * (root + root));
    } else {
      lines.put("gradient packing", 4 * Math.max(layer, root));
    }
    lines.put("AdamW update", 4 * Math.min(stage >= 1 ? shards : all, 64L << 20));
    long tokens = (long) in.microBatch() * in.window();
    long perLayer = layerBytesPerToken(c, compute) * tokens;
    long inputs = 4L * c.hiddenSize() * tokens;
    long h = c.hiddenSize();
    long q = (long) c.numAttentionHeads() * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long casts = compute == ComputeType.FP32 ? 0
        : b * (h * q + h * kv + h * kv + q * h + h * c.intermediateSize() * 3);
    int n = c.numHiddenLayers();
    long activations = in.recompute()
        ? n * inputs + 2 * inputs + perLayer + perLayer + casts
        : n * perLayer + n * inputs + n * casts + perLayer;
    lines.put("activations", activations);
    long logits = compute == ComputeType.FP32
        ? 16L * c.vocabSize() * tokens
        : 20L * c.vocabSize() * tokens + b * c.vocabSize() * h;
    lines.put("logits and loss", logits);
    lines.put("allocator headroom", (activations + logits + gathered) / 10);
    if (in.gpu()) {
      lines.put("CUDA runtime", 1536L << 20);
    }
    return lines;
  }

  static Map<String, Long> planned(MemoryPlan p) {
    Map<String, Long> lines = new LinkedHashMap<>();
    p.lines().forEach(l -> lines.put(l.what(), l.bytes()));
    return lines;
  }

  static String how(MemoryPlan p, String what) {
    return p.lines().stream().filter(l -> l.what().equals(what)).findFirst().orElseThrow().how();
  }

  @Test
  void everyLineOfThePlanIsTheCensusToTheByte() {
    int checked = 0;
    for (ModelConfig c : SHAPES) {
      for (ComputeType compute : ComputeType.values()) {
        for (int stage = 0; stage <= 3; stage++) {
          for (int world : new int[] {1, 3, 8}) {
            for (boolean recompute : new boolean[] {false, true}) {
              for (boolean gpu : new boolean[] {false, true}) {
                MemoryPlan.Inputs in = new MemoryPlan.Inputs(c, world, stage, compute, 2, 48, recompute, gpu);
                MemoryPlan p = MemoryPlan.of(in);
                Map<String, Long> census = census(in);
                assertThat(planned(p)).as("%s, ZeRO %d, %d ranks, recompute %s, gpu %s, %s", compute, stage, world,
                    recompute, gpu, c).containsExactlyEntriesOf(census);
                assertThat(p.total()).isEqualTo(census.values().stream().mapToLong(Long::longValue).sum());
                assertThat(p.modelStates()).isEqualTo(census.get("weights (fp32 master)")
                    + census.get("gradients (fp32)") + census.get("AdamW moments (fp32)"));
                assertThat(how(p, "weights (fp32 master)")).isEqualTo("4 B x params" + (stage >= 3 ? "/" + world : ""));
                assertThat(how(p, "gradients (fp32)")).isEqualTo("4 B x params" + (stage >= 2 ? "/" + world : ""));
                assertThat(how(p, "AdamW moments (fp32)")).isEqualTo("8 B x params" + (stage >= 1 ? "/" + world : ""));
                assertThat(how(p, "activations")).isEqualTo(recompute
                    ? "each layer's input + one layer's forward and backward"
                    : "every layer's forward, one layer's backward");
                if (stage == 3) {
                  assertThat(how(p, "gathered weights")).isEqualTo(recompute
                      ? "root unit + the layer running + the next one, prefetched"
                      : "every layer, held by its forward graph");
                }
                checked++;
              }
            }
          }
        }
      }
    }
    assertThat(checked).isEqualTo(3 * ComputeType.values().length * 4 * 3 * 2 * 2);
  }

  /** Past 64M elements a rank updates, the update's temporaries stop growing: one group at a time. */
  @Test
  void theUpdatesTemporariesAreOneGroupOfAtMost64MiValues() throws IOException {
    ModelConfig mistral = MemoryPlanTest.config("mistral-7b-v0.1");
    for (int stage = 0; stage <= 3; stage++) {
      MemoryPlan p = MemoryPlan.of(new MemoryPlan.Inputs(mistral, 8, stage, ComputeType.BF16, 1, 8192, true, true));
      assertThat(MemoryPlanTest.line(p, "AdamW update")).isEqualTo(4L * (64 << 20)).isEqualTo(4L * AdamW.GROUP_ELEMENTS);
    }
  }

  /** DeepSpeed's ZeRO-3 estimate takes the larger of the embedding and an MLP projection as its largest module. */
  @Test
  void deepSpeedsLargestModuleIsAnMlpProjectionWhenTheMlpIsWiderThanTheVocabulary() {
    ModelConfig c = SHAPES.get(2); // intermediate 512 > vocab 96
    long params = MemoryPlan.totalParameters(c);
    assertThat(MemoryPlan.deepSpeedModelStates(c, 3, 4)).isEqualTo(4L * 512 * 128 + (long) (18.0 * params / 4));
    ModelConfig wideVocab = SHAPES.get(1); // vocab 1000 > intermediate 176
    long p1 = MemoryPlan.totalParameters(wideVocab);
    assertThat(MemoryPlan.deepSpeedModelStates(wideVocab, 3, 3)).isEqualTo(4L * 1000 * 64 + (long) (18.0 * p1 / 3));
    assertThat(MemoryPlan.deepSpeedModelStates(wideVocab, 2, 3)).isEqualTo(2 * p1 + (long) (18.0 * p1 / 3));
  }

  @Test
  void sizesReadInTheLargestUnitThatIsAtLeastOne() {
    assertThat(MemoryPlan.gib(1L << 30)).isEqualTo("1.00 GiB");
    assertThat(MemoryPlan.gib((1L << 30) - 1)).isEqualTo("1024.0 MiB");
    assertThat(MemoryPlan.gib(3L << 29)).isEqualTo("1.50 GiB");
    assertThat(MemoryPlan.gib(1L << 20)).isEqualTo("1.0 MiB");
    assertThat(MemoryPlan.gib((1L << 20) - 1)).isEqualTo("1024.0 KiB");
    assertThat(MemoryPlan.gib(5L << 19)).isEqualTo("2.5 MiB");
    assertThat(MemoryPlan.gib(512)).isEqualTo("0.5 KiB");
  }

  @Test
  void theTableListsEveryLineAndTheDevicesShare() {
    ModelConfig c = SHAPES.get(0);
    MemoryPlan one = MemoryPlan.of(new MemoryPlan.Inputs(c, 1, 0, ComputeType.FP32, 2, 48, false, false));
    String table = one.table(0);
    List<String> rows = new ArrayList<>(List.of(table.split("\n")));
    assertThat(rows.get(0)).isEqualTo("memory plan per rank (1 rank, ZeRO 0, fp32, micro batch 2 x 48 tokens, "
        + "recomputation off):");
    assertThat(rows).hasSize(one.lines().size() + 2);
    for (int i = 0; i < one.lines().size(); i++) {
      MemoryPlan.Line l = one.lines().get(i);
      assertThat(rows.get(i + 1)).isEqualTo(String.format("  %-26s %10s   %s", l.what(), MemoryPlan.gib(l.bytes()),
          l.how()));
    }
    assertThat(rows.get(rows.size() - 1)).isEqualTo(String.format("  %-26s %10s", "peak", MemoryPlan.gib(one.total())));

    MemoryPlan eight = MemoryPlan.of(new MemoryPlan.Inputs(c, 8, 3, ComputeType.BF16, 2, 48, true, true));
    String last = eight.table(4 * eight.total()).lines().reduce((a, b) -> b).orElseThrow();
    assertThat(last).endsWith("   of " + MemoryPlan.gib(4 * eight.total()) + " (25%)");
    assertThat(eight.table(1).lines().findFirst().orElseThrow())
        .isEqualTo("memory plan per rank (8 ranks, ZeRO 3, bf16, micro batch 2 x 48 tokens, recomputation on):");
  }

  /** Each alternative is offered at a device of exactly its peak, and not at one byte less. */
  @Test
  void eachAlternativeIsOfferedAtExactlyItsPeakAndNotOneByteBelow() throws IOException {
    ModelConfig mistral = MemoryPlanTest.config("mistral-7b-v0.1");
    MemoryPlan.Inputs base = new MemoryPlan.Inputs(mistral, 8, 0, ComputeType.BF16, 4, 8192, false, true);
    MemoryPlan plan = MemoryPlan.of(base);

    // without recomputation ZeRO 3 holds every layer's gathered weights, more than ZeRO 2 saves: stages 1 and 2 here
    for (int stage = 1; stage <= 2; stage++) {
      long peak = MemoryPlan.of(base.with(8, stage, 4, false)).total();
      String offer = "spec.training.zeroStage: " + stage + " (" + MemoryPlan.gib(peak) + ")";
      assertThat(plan.alternatives(peak, 8)).as("ZeRO %d", stage).contains(offer);
      assertThat(plan.alternatives(peak - 1, 8)).as("ZeRO %d", stage).doesNotContain(offer);
    }
    assertThat(MemoryPlan.of(base.with(8, 3, 4, false)).total())
        .isGreaterThan(MemoryPlan.of(base.with(8, 2, 4, false)).total());
    // with recomputation, from ZeRO 2, stage 3 is the only higher stage to try
    MemoryPlan atTwo = MemoryPlan.of(base.with(8, 2, 4, true));
    long three = MemoryPlan.of(base.with(8, 3, 4, true)).total();
    String offerThree = "spec.training.zeroStage: 3 (" + MemoryPlan.gib(three) + ")";
    assertThat(atTwo.alternatives(three, 8)).contains(offerThree);
    assertThat(atTwo.alternatives(three - 1, 8)).doesNotContain(offerThree);
    assertThat(MemoryPlan.of(base.with(8, 3, 4, true)).alternatives(1L << 40, 8))
        .noneMatch(s -> s.startsWith("spec.training.zeroStage"));

    long recomputed = MemoryPlan.of(base.with(8, 0, 4, true)).total();
    String recompute = "spec.training.activationCheckpointing: true (" + MemoryPlan.gib(recomputed) + ")";
    assertThat(plan.alternatives(recomputed, 8)).contains(recompute);
    assertThat(plan.alternatives(recomputed - 1, 8)).doesNotContain(recompute);
    assertThat(MemoryPlan.of(base.with(8, 0, 4, true)).alternatives(recomputed, 8))
        .noneMatch(s -> s.startsWith("spec.training.activationCheckpointing"));

    long two = MemoryPlan.of(base.with(8, 0, 2, false)).total();
    long one = MemoryPlan.of(base.with(8, 0, 1, false)).total();
    assertThat(plan.alternatives(two, 8)).contains("spec.training.microBatchSize: 2 (" + MemoryPlan.gib(two) + ")")
        .noneMatch(s -> s.startsWith("spec.training.microBatchSize: 1"));
    assertThat(plan.alternatives(two - 1, 8)).contains("spec.training.microBatchSize: 1 (" + MemoryPlan.gib(one) + ")");
    assertThat(plan.alternatives(one - 1, 8)).noneMatch(s -> s.startsWith("spec.training.microBatchSize"));
    assertThat(MemoryPlan.of(base.with(8, 0, 1, false)).alternatives(one, 8))
        .noneMatch(s -> s.startsWith("spec.training.microBatchSize"));

    long sixteen = MemoryPlan.of(base.with(16, 3, 4, false)).total();
    long twentyFour = MemoryPlan.of(base.with(24, 3, 4, false)).total();
    assertThat(plan.alternatives(sixteen, 8)).contains("2 nodes of 8 ranks at ZeRO 3 (" + MemoryPlan.gib(sixteen)
        + "; spec.resources.nodes: 2, spec.training.zeroStage: 3)");
    assertThat(plan.alternatives(sixteen - 1, 8)).contains("3 nodes of 8 ranks at ZeRO 3 ("
        + MemoryPlan.gib(twentyFour) + "; spec.resources.nodes: 3, spec.training.zeroStage: 3)");
    long nine = MemoryPlan.of(base.with(9, 3, 4, false)).total();
    assertThat(plan.alternatives(nine, 0)).contains("9 nodes of 1 ranks at ZeRO 3 (" + MemoryPlan.gib(nine)
        + "; spec.resources.nodes: 9, spec.training.zeroStage: 3)");
    // nothing up to 1024 ranks fits a device smaller than the weights' share plus the runtime
    assertThat(plan.alternatives(1L << 30, 8)).isEmpty();
    long at1024 = MemoryPlan.of(base.with(1024, 3, 1, true)).total();
    MemoryPlan small = MemoryPlan.of(base.with(1016, 3, 1, true));
    assertThat(small.alternatives(at1024, 8)).contains("128 nodes of 8 ranks at ZeRO 3 (" + MemoryPlan.gib(at1024)
        + "; spec.resources.nodes: 128, spec.training.zeroStage: 3)");
  }
}
