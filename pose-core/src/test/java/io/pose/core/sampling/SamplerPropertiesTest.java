package io.pose.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Properties every sample must have, checked on thousands of documents of every length class. */
class SamplerPropertiesTest {

  static final int LC = 128;
  static final int LT = 1024;

  static Stream<Arguments> pose() {
    return Stream.of(
        Arguments.of("official", Samplers.official(LC, LT)),
        Arguments.of("1 chunk", Samplers.chunked(LC, LT, 1)),
        Arguments.of("2 chunks (general form)", Samplers.chunked(LC, LT, 2)),
        Arguments.of("3 chunks", Samplers.chunked(LC, LT, 3)),
        Arguments.of("40 chunks", Samplers.chunked(LC, LT, 40)),
        Arguments.of("Lc chunks", Samplers.chunked(LC, LT, LC)));
  }

  static Stream<Arguments> all() {
    return Stream.concat(pose(), Stream.of(
        Arguments.of("randpos", Samplers.randPos(LC, LT)),
        Arguments.of("full", Samplers.fullLength(LT))));
  }

  /** A document whose token ids are its own indices plus an offset, so a sample reveals where each token came from. */
  static int[] document(int n) {
    int[] d = new int[n];
    for (int i = 0; i < n; i++) {
      d[i] = 1000 + i;
    }
    return d;
  }

  static final int[] LENGTHS = {1, 2, 3, 5, 64, 127, 128, 129, 300, 640, 641, 2000};

  @ParameterizedTest(name = "{0}")
  @MethodSource("all")
  void everySampleIsWellFormed(String name, PositionSampler sampler) {
    Random lengths = new Random(5);
    for (int i = 0; i < 3000; i++) {
      int n = i < LENGTHS.length ? LENGTHS[i] : 1 + lengths.nextInt(6 * LC);
      int[] doc = document(n);
      Sample s = sampler.sample(42, i, doc);
      int expectedLength = sampler instanceof FullLengthSampler ? Math.min(n, LT) : Math.min(n, LC);
      assertThat(s.length()).as("%s n=%d", name, n).isEqualTo(expectedLength);
      assertThat(s.labels()).as("labels are the token ids").isEqualTo(s.inputIds());
      Set<Integer> used = new HashSet<>();
      int previousSource = -1;
      for (int k = 0; k < s.length(); k++) {
        int source = s.inputIds()[k] - 1000;
        assertThat(source).as("token from the document").isBetween(0, n - 1);
        assertThat(used.add(source)).as("%s n=%d: token %d used twice", name, n, source).isTrue();
        assertThat(source).as("text order is kept").isGreaterThan(previousSource);
        previousSource = source;
        assertThat(s.positionIds()[k]).as("position below Lt").isBetween(0, LT - 1);
        if (k > 0) {
          assertThat(s.positionIds()[k]).as("%s n=%d: positions strictly increase", name, n)
              .isGreaterThan(s.positionIds()[k - 1]);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pose")
  void poseSamplesStartAtPositionZeroAndKeepTextAndPositionsTogetherWithinAChunk(String name, PositionSampler sampler) {
    for (int i = 0; i < 2000; i++) {
      Sample s = sampler.sample(7, i, document(700));
      assertThat(s.positionIds()[0]).isZero();
      assertThat(s.inputIds()[0]).as("the first chunk starts the document").isEqualTo(1000);
      for (int k = 1; k < s.length(); k++) {
        boolean textContiguous = s.inputIds()[k] == s.inputIds()[k - 1] + 1;
        boolean positionsContiguous = s.positionIds()[k] == s.positionIds()[k - 1] + 1;
        if (!textContiguous) {
          assertThat(k).as("a text jump only happens at a chunk boundary, where positions may jump too")
              .isPositive();
        }
        if (!positionsContiguous) {
          assertThat(s.positionIds()[k] - s.positionIds()[k - 1]).isPositive();
        }
      }
    }
  }

  @Test
  void theOfficialRuleDrawsWithinItsRanges() {
    PositionSampler sampler = Samplers.official(LC, LT);
    boolean maxReached = false;
    for (int i = 0; i < 20000; i++) {
      int n = 1 + (i % (6 * LC));
      Sample s = sampler.sample(3, i, document(n));
      int w = Math.min(n, LC);
      int l0 = 1;
      while (l0 < w && s.positionIds()[l0] == l0 && s.inputIds()[l0] == 1000 + l0) {
        l0++;
      }
      // when the second chunk continues both text and positions seamlessly, the split point is ambiguous
      if (l0 < w) {
        assertThat(l0).as("first chunk length in [1, (w+1)/2]").isBetween(1, (w + 1) / 2);
        int skip = s.positionIds()[l0] - l0;
        assertThat(skip).isBetween(0, LT - w);
        int end = s.inputIds()[w - 1] - 1000 + 1;
        assertThat(end).as("second chunk ends in [w, min(n, 5 Lc)]").isBetween(w, Math.min(n, 5 * LC));
      }
      maxReached |= s.maxPosition() == LT - 1;
    }
    assertThat(maxReached).as("position Lt - 1 is reachable").isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("all")
  void samplingIsAPureFunctionOfSeedIndexAndDocument(String name, PositionSampler sampler) {
    int[] doc = document(900);
    int[] copy = doc.clone();
    Sample a = sampler.sample(11, 5, doc);
    assertThat(sampler.sample(11, 5, doc)).isEqualTo(a);
    assertThat(doc).as("the document is not modified").isEqualTo(copy);
    // one chunk (plain training inside the window) and full length have nothing random to draw
    if (!(sampler instanceof FullLengthSampler) && !name.equals("1 chunk")) {
      long distinct = Stream.iterate(0L, x -> x + 1).limit(50).map(i -> sampler.sample(11, i, doc))
          .map(s -> Arrays.toString(s.positionIds())).distinct().count();
      assertThat(distinct).as("different indices draw differently").isGreaterThan(40);
      assertThat(sampler.sample(12, 5, doc)).as("different seeds draw differently").isNotEqualTo(a);
    }
  }

  @Test
  void samplesCoverDistancesUpToTheTargetWhileHoldingOnlyLcTokens() {
    PositionSampler sampler = Samplers.official(8192, 32768);
    int[] doc = document(8192 * 3);
    int longest = 0;
    for (int i = 0; i < 500; i++) {
      Sample s = sampler.sample(1, i, doc);
      assertThat(s.length()).isEqualTo(8192);
      longest = Math.max(longest, s.maxPosition() - s.positionIds()[0]);
    }
    assertThat(longest).as("relative distances far beyond Lc").isGreaterThan(30000);
  }

  @Test
  void methodSelectsTheSampler() {
    assertThat(Samplers.of(Samplers.Method.POSE, LC, LT, 2)).isInstanceOf(OfficialPoseSampler.class);
    assertThat(Samplers.of(Samplers.Method.POSE, LC, LT, 3)).isInstanceOf(ChunkedPoseSampler.class);
    assertThat(Samplers.of(Samplers.Method.RANDPOS, LC, LT, 2)).isInstanceOf(RandPosSampler.class);
    assertThat(Samplers.of(Samplers.Method.FULL, LC, LT, 2)).isInstanceOf(FullLengthSampler.class);
  }

  @Test
  void badArgumentsAreRejectedWithTheRule() {
    assertThatThrownBy(() -> Samplers.official(LC, LC)).hasMessage("target length: 128 must exceed the training window 128");
    assertThatThrownBy(() -> Samplers.chunked(LC, LT, 0)).hasMessage("chunks: 0 is not in [1, trainingWindow 128]");
    assertThatThrownBy(() -> Samplers.official(LC, LT).sample(1, 1, new int[0]))
        .hasMessage("document: empty; documents must hold at least one token");
  }

  @Test
  void batchesArePaddedLikeTheOfficialCollator() {
    PositionSampler sampler = Samplers.official(8, 64);
    List<Sample> samples = List.of(sampler.sample(1, 0, document(3)), sampler.sample(1, 1, document(100)));
    Batch b = Batch.collate(samples, 0);
    assertThat(b.size()).isEqualTo(2);
    assertThat(b.length()).isEqualTo(8);
    assertThat(Arrays.copyOfRange(b.inputIds(), 3, 8)).containsOnly(0);
    assertThat(Arrays.copyOfRange(b.labels(), 3, 8)).containsOnly(Batch.IGNORE_INDEX);
    assertThat(Arrays.copyOfRange(b.positionIds(), 3, 8)).containsOnly(0);
    assertThat(Arrays.copyOfRange(b.attentionMask(), 0, 8)).containsExactly(1, 1, 1, 0, 0, 0, 0, 0);
    assertThat(Arrays.copyOfRange(b.inputIds(), 8, 16)).isEqualTo(samples.get(1).inputIds());
  }
}
