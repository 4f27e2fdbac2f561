package io.pose.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The edges of sampling that the distribution tests do not reach (the mutants docs/quality.md lists for sampling):
 * padding in a batch, the bounds of every sampler's lengths, the samples of the chunked sampler pinned across
 * releases, and what a sample says about itself.
 */
class SamplingEdgesTest {

  private static final int[] DOCUMENT = IntStream.range(1000, 1600).toArray();

  @Test
  void collatePadsShortSamplesWithThePadIdAndIgnoredLabels() {
    Sample longer = new Sample(new int[] {11, 12, 13}, new int[] {0, 7, 8}, new int[] {21, 22, 23});
    Sample shorter = new Sample(new int[] {31}, new int[] {5}, new int[] {41});
    Batch b = Batch.collate(List.of(longer, shorter), 9);
    assertThat(b.size()).isEqualTo(2);
    assertThat(b.length()).isEqualTo(3);
    assertThat(b.inputIds()).containsExactly(11, 12, 13, 31, 9, 9);
    assertThat(b.positionIds()).containsExactly(0, 7, 8, 5, 0, 0);
    assertThat(b.labels()).containsExactly(21, 22, 23, 41, Batch.IGNORE_INDEX, Batch.IGNORE_INDEX);
    assertThat(b.attentionMask()).containsExactly(1, 1, 1, 1, 0, 0);
  }

  @Test
  void everySamplerChecksItsLengthsAndSaysWhatTheyAre() {
    for (PositionSampler s : List.of(Samplers.official(1, 2), Samplers.chunked(1, 2, 1), Samplers.randPos(1, 2))) {
      assertThat(s.trainingWindow()).as(s.getClass().getSimpleName()).isEqualTo(1);
      assertThat(s.targetLength()).isEqualTo(2);
    }
    assertThat(Samplers.fullLength(1).trainingWindow()).isEqualTo(1);
    assertThat(Samplers.fullLength(1).targetLength()).isEqualTo(1);
    assertThatThrownBy(() -> Samplers.fullLength(0)).hasMessage("target length: 0 must be at least 1");
    for (var make : List.<java.util.function.BiFunction<Integer, Integer, PositionSampler>>of(Samplers::official,
        (w, t) -> Samplers.chunked(w, t, 1), Samplers::randPos)) {
      assertThatThrownBy(() -> make.apply(0, 8)).hasMessage("training window: 0 must be at least 1");
      assertThatThrownBy(() -> make.apply(8, 8)).hasMessage("target length: 8 must exceed the training window 8");
    }
    assertThatThrownBy(() -> Samplers.chunked(8, 16, 9)).hasMessage("chunks: 9 is not in [1, trainingWindow 8]");
  }

  /**
   * Like SampleRandom's stream, the chunked sampler's draws are part of a checkpoint's meaning: a resumed run must
   * see the samples the first one would have. Both ways of drawing the cut points are pinned: rejection of
   * duplicates for few cuts, a partial shuffle for many (the switch between them is part of the stream too).
   */
  @Test
  void theChunkedSamplersSamplesArePinnedAcrossReleases() {
    // window 64, 4 chunks: 3 cuts, drawn with rejection
    Sample few = Samplers.chunked(64, 512, 4).sample(42, 3, DOCUMENT);
    assertThat(chunkStarts(few)).containsExactly(0, 9, 27, 56);
    assertThat(few.positionIds()[0]).isEqualTo(0);
    assertThat(few.maxPosition()).isEqualTo(301);
    assertThat(few.inputIds()[0]).isEqualTo(1000);
    // window 64, 17 chunks: 16 cuts, more than (w - 1) / 4, drawn by the shuffle
    Sample many = Samplers.chunked(64, 512, 17).sample(42, 3, DOCUMENT);
    // (a chunk whose skip and document offset both repeat the previous chunk's is not visible here)
    assertThat(chunkStarts(many)).containsExactly(0, 1, 9, 11, 13, 23, 25, 26);
    // at the switch: 16 cuts in a window of 65 (16 x 4 = 64 = w - 1) still reject duplicates
    Sample edge = Samplers.chunked(65, 512, 17).sample(42, 3, DOCUMENT);
    assertThat(chunkStarts(edge)).containsExactly(0, 14, 15, 18, 26);
    int sum = 0;
    for (int i = 0; i < 200; i++) {
      sum += Arrays.hashCode(Samplers.chunked(64, 512, 1 + i % 40).sample(7, i, DOCUMENT).positionIds());
    }
    assertThat(sum).isEqualTo(2075760243);
  }

  /** The starts of the chunks: where a position does not follow its predecessor, or where a skip of 0 was drawn. */
  private static int[] chunkStarts(Sample s) {
    int[] p = s.positionIds();
    int[] ids = s.inputIds();
    return IntStream.range(0, p.length)
        .filter(i -> i == 0 || p[i] != p[i - 1] + 1 || ids[i] != ids[i - 1] + 1).toArray();
  }

  @Test
  void aSampleIsAValueAndDescribesItself() {
    Sample a = new Sample(new int[] {1, 2}, new int[] {0, 9}, new int[] {1, 2});
    Sample same = new Sample(new int[] {1, 2}, new int[] {0, 9}, new int[] {1, 2});
    assertThat(a).isEqualTo(same).hasSameHashCodeAs(same);
    assertThat(a.hashCode()).isNotEqualTo(new Sample(new int[] {1, 2}, new int[] {0, 8}, new int[] {1, 2}).hashCode());
    assertThat(a.hashCode()).isNotEqualTo(new Sample(new int[] {1, 3}, new int[] {0, 9}, new int[] {1, 2}).hashCode());
    assertThat(a.hashCode()).isNotEqualTo(new Sample(new int[] {1, 2}, new int[] {0, 9}, new int[] {1, 3}).hashCode());
    assertThat(a).hasToString("Sample[length=2, positions 0..9]");
    Sample empty = new Sample(new int[0], new int[0], new int[0]);
    assertThat(empty).hasToString("Sample[length=0, positions none]");
    assertThat(empty.maxPosition()).isEqualTo(-1);
  }
}
