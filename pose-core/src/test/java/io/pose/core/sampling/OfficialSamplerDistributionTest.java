package io.pose.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The official sampler's draws and what they produce, compared with the exact distributions of the official rule
 * (dwzhu-pku/PoSE train_preprocess_function_pose) by Pearson's chi-square test, at a fixed seed: deterministic,
 * with a stated significance. From a document whose token ids are their indices, each sample reveals its draws:
 * the first chunk's length l0 (uniform in [1, (w+1) div 2]), the second chunk's end e (uniform in [w, n]) and the
 * skip s (uniform in [0, Lt - w]); and the positions and the relative distances of all token pairs, whose exact
 * distributions are enumerated over every (l0, s). The configurations use an odd window (so that (w+1) div 2 and
 * w div 2 differ) and a document shorter than the window (so that a skip bound of Lt - Lc differs from Lt - w).
 */
class OfficialSamplerDistributionTest {

  /** Samples per configuration. */
  static final int N = 60_000;

  /** The upper-tail z of the significance level: 1e-6 (one false alarm in a million seeds). */
  static final double Z = 4.753;

  static Stream<Arguments> configurations() {
    return Stream.of(
        Arguments.of(9, 40, 30),   // a long document: w = Lc = 9, e over [9, 30]
        Arguments.of(9, 40, 6),    // shorter than the window: w = 6, the skip reaches Lt - 6
        Arguments.of(9, 40, 100),  // longer than 5 Lc: the official code keeps 45 tokens, e over [9, 45]
        Arguments.of(16, 64, 40)); // an even window
  }

  @ParameterizedTest(name = "Lc={0} Lt={1} n={2}")
  @MethodSource("configurations")
  void everyDrawIsUniformOverExactlyTheOfficialRange(int lc, int lt, int n) {
    PositionSampler sampler = Samplers.official(lc, lt);
    int kept = Math.min(n, OfficialPoseSampler.MAX_DOCUMENT_WINDOWS * lc);
    int w = Math.min(kept, lc);
    int[] doc = document(n);
    int firstMax = (w + 1) / 2;
    long[] first = new long[firstMax + 1];
    long[] end = new long[kept + 1];
    long[] skip = new long[lt - w + 1];
    long identifiable = 0;
    for (int i = 0; i < N; i++) {
      Sample s = sampler.sample(7, i, doc);
      int[] ids = s.inputIds();
      int[] pos = s.positionIds();
      assertThat(ids).hasSize(w);
      int e = ids[w - 1] + 1;
      int k = pos[w - 1] - (w - 1);
      assertThat(e).as("the second chunk's end").isBetween(w, kept);
      assertThat(k).as("the skip").isBetween(0, lt - w);
      end[e]++;
      skip[k]++;
      // l0 shows where ids or positions first leave 0, 1, 2, ...; when neither does (e = w and s = 0), it cannot
      // be told, and since the draws are independent, the samples where it can are uniform over l0 too
      int l0 = -1;
      for (int j = 0; j < w; j++) {
        if (ids[j] != j || pos[j] != j) {
          l0 = j;
          break;
        }
      }
      if (l0 >= 0) {
        assertThat(l0).as("the first chunk's length").isBetween(1, firstMax);
        first[l0]++;
        identifiable++;
      }
    }
    assertUniform("first chunk length", Arrays.copyOfRange(first, 1, firstMax + 1), identifiable);
    assertUniform("second chunk end", Arrays.copyOfRange(end, w, kept + 1), N);
    assertUniform("skip", skip, N);
  }

  @ParameterizedTest(name = "Lc={0} Lt={1} n={2}")
  @MethodSource("configurations")
  void positionsAndRelativeDistancesFollowTheExactDistribution(int lc, int lt, int n) {
    PositionSampler sampler = Samplers.official(lc, lt);
    int kept = Math.min(n, OfficialPoseSampler.MAX_DOCUMENT_WINDOWS * lc);
    int w = Math.min(kept, lc);
    // exact: every (l0, s) equally likely, the end does not move positions
    double[] positions = new double[lt];
    double[] distances = new double[lt];
    int firstMax = (w + 1) / 2;
    double weight = 1.0 / (firstMax * (double) (lt - w + 1));
    for (int l0 = 1; l0 <= firstMax; l0++) {
      for (int s = 0; s <= lt - w; s++) {
        int[] p = positions(w, l0, s);
        for (int a = 0; a < w; a++) {
          positions[p[a]] += weight;
          for (int b = a + 1; b < w; b++) {
            distances[p[b] - p[a]] += weight;
          }
        }
      }
    }
    // the tokens of one sample share its draws, so counting them all would not be a multinomial sample: each
    // sample contributes one token and one pair, taken in turn, and the expectation is their mixture
    int pairs = w * (w - 1) / 2;
    for (int i = 0; i < lt; i++) {
      positions[i] /= w;
      distances[i] /= Math.max(1, pairs);
    }
    long[] seenPositions = new long[lt];
    long[] seenDistances = new long[lt];
    int[][] pair = new int[pairs][];
    for (int a = 0, q = 0; a < w; a++) {
      for (int b = a + 1; b < w; b++) {
        pair[q++] = new int[] {a, b};
      }
    }
    int[] doc = document(n);
    for (int i = 0; i < N; i++) {
      int[] p = sampler.sample(11, i, doc).positionIds();
      seenPositions[p[i % w]]++;
      if (pairs > 0) {
        int[] q = pair[i % pairs];
        seenDistances[p[q[1]] - p[q[0]]]++;
      }
    }
    assertMatches("positions", seenPositions, positions, N);
    assertMatches("relative distances", seenDistances, distances, N);
  }

  static int[] positions(int w, int l0, int skip) {
    int[] p = new int[w];
    for (int i = 0; i < w; i++) {
      p[i] = i < l0 ? i : i + skip;
    }
    return p;
  }

  static int[] document(int n) {
    int[] d = new int[n];
    for (int i = 0; i < n; i++) {
      d[i] = i;
    }
    return d;
  }

  /** Observed counts against equal probabilities. */
  static void assertUniform(String what, long[] observed, long total) {
    double[] p = new double[observed.length];
    Arrays.fill(p, 1.0 / observed.length);
    assertMatches(what, observed, p, total);
  }

  /**
   * Pearson's chi-square of the observed counts against expected counts (probability or weight per sample times
   * total); a count where none is expected fails outright. Bins expecting fewer than 5 are pooled.
   */
  static void assertMatches(String what, long[] observed, double[] perSample, long total) {
    double chi = 0;
    int bins = 0;
    double pooledExpected = 0;
    long pooledObserved = 0;
    for (int i = 0; i < observed.length; i++) {
      double expected = perSample[i] * total;
      if (expected == 0) {
        assertThat(observed[i]).as("%s: %d where the official rule never goes", what, i).isZero();
        continue;
      }
      if (expected < 5) {
        pooledExpected += expected;
        pooledObserved += observed[i];
        continue;
      }
      chi += (observed[i] - expected) * (observed[i] - expected) / expected;
      bins++;
    }
    if (pooledExpected > 0) {
      chi += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected;
      bins++;
    }
    int df = Math.max(1, bins - 1);
    assertThat(chi).as("%s: chi-square %.1f on %d degrees of freedom", what, chi, df).isLessThan(critical(df));
  }

  /** The chi-square quantile at the upper tail of Z (Wilson and Hilferty's cube-root approximation). */
  static double critical(int df) {
    double h = 2.0 / (9.0 * df);
    return df * Math.pow(1 - h + Z * Math.sqrt(h), 3);
  }
}
