package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Blockwise inference over the key/value cache gives what one plain forward gives: the same log-probabilities for
 * any block size (the sliding window crossing block borders included), and greedy decoding over the cache picks
 * the tokens a full forward per step would pick.
 */
class LanguageModelTest {

  @TempDir
  Path tmp;

  static int[] randomIds(int n, long seed) {
    Random r = new Random(seed);
    return r.ints(n, 3, 128).toArray();
  }

  /** log p(ids[t] | ids[<t]) for t >= 1 from one forward of the plain decoder. */
  static double[] plainLogProbs(Path dir, int[] ids) throws IOException {
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    try (NDManager m = NDManager.newBaseManager(); Checkpoint c = Checkpoint.open(dir)) {
      Decoder decoder = new Decoder(config, DecoderWeights.load(config, c, m), ComputeType.FP32);
      int[][] positions = {java.util.stream.IntStream.range(0, ids.length).toArray()};
      NDArray logits = decoder.forward(m.create(Arrays.stream(ids).asLongStream().toArray(), new Shape(1, ids.length)),
          positions);
      float[] logp = logits.logSoftmax(-1).toFloatArray();
      int vocab = config.vocabSize();
      double[] out = new double[ids.length - 1];
      for (int t = 1; t < ids.length; t++) {
        out[t - 1] = logp[(t - 1) * vocab + ids[t]];
      }
      return out;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama-gqa-tied", "llama-yarn", "mistral-swa"})
  void blocksOverTheCacheScoreLikeOneForward(String name) throws IOException {
    Path dir = TinyModels.directory(name, tmp);
    // longer than a slice of the head (256), so that scoring crosses slices as well as blocks
    int[] ids = randomIds(600, name.length());
    double[] expected = plainLogProbs(dir, ids);
    for (int block : new int[] {1, 7, 300, 2048}) {
      try (LanguageModel model = LanguageModel.load(dir, ComputeType.FP32, block)) {
        LanguageModel.Scores s = model.score(ids, 1);
        for (int i = 0; i < expected.length; i++) {
          assertThat(s.logProbs()[i]).as("%s block %d token %d", name, block, i + 1)
              .isCloseTo(expected[i], Offset.offset(2e-4 * Math.max(1, Math.abs(expected[i]))));
        }
        LanguageModel.Scores tail = model.score(ids, 60);
        assertThat(tail.logProbs()).hasSize(540);
        assertThat(tail.logProbs()[0]).isCloseTo(s.logProbs()[59], Offset.offset(1e-5));
      }
    }
  }

  /** Under bf16 autocast the cache path runs (values widened in the engine) and stays near the fp32 numbers. */
  @ParameterizedTest
  @ValueSource(strings = {"llama", "mistral-swa"})
  void blocksOverTheCacheRunUnderBf16(String name) throws IOException {
    Path dir = TinyModels.directory(name, tmp);
    int[] ids = randomIds(40, 3);
    double fp32;
    try (LanguageModel model = LanguageModel.load(dir, ComputeType.FP32, 7)) {
      fp32 = model.score(ids, 1).sum();
    }
    try (LanguageModel model = LanguageModel.load(dir, ComputeType.BF16, 7)) {
      double bf16 = model.score(ids, 1).sum();
      assertThat(bf16).isCloseTo(fp32, Offset.offset(0.05 * Math.abs(fp32)));
      assertThat(model.greedy(ids, 5)).hasSizeBetween(1, 5);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "mistral-swa"})
  void greedyDecodingOverTheCachePicksWhatAFullForwardPicks(String name) throws IOException {
    Path dir = TinyModels.directory(name, tmp);
    int[] prompt = randomIds(23, 11);
    int[] generated;
    try (LanguageModel model = LanguageModel.load(dir, ComputeType.FP32, 5)) {
      generated = model.greedy(prompt, 10);
    }
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    int[] sequence = prompt;
    try (NDManager m = NDManager.newBaseManager(); Checkpoint c = Checkpoint.open(dir)) {
      Decoder decoder = new Decoder(config, DecoderWeights.load(config, c, m), ComputeType.FP32);
      for (int step = 0; step < generated.length; step++) {
        int n = sequence.length;
        NDArray logits = decoder.forward(m.create(Arrays.stream(sequence).asLongStream().toArray(), new Shape(1, n)),
            new int[][] {java.util.stream.IntStream.range(0, n).toArray()});
        int next = (int) logits.get("0, -1, :").argMax().getLong();
        assertThat(generated[step]).as("%s step %d", name, step).isEqualTo(next);
        sequence = Arrays.copyOf(sequence, n + 1);
        sequence[n] = next;
      }
    }
    assertThat(generated.length == 10 || generated[generated.length - 1] == 2).isTrue();
  }
}
