package io.pose.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The paper's general form with N chunks (Section 3.2): the w = min(n, Lc) tokens of a sample are split into N
 * chunks of random lengths l_i (N - 1 distinct cut points, uniform in [1, w - 1]); chunk i starts at
 * st_i = sum of the earlier lengths; position skips are non-decreasing, u_0 = 0 and u_i uniform in
 * [u_{i-1}, Lt - w]; text offsets likewise, v_0 = 0 and v_i uniform in [v_{i-1}, n - w]. Chunk i holds tokens
 * [v_i + st_i, v_i + st_i + l_i) at positions u_i + st_i onwards. With N = 1 this is plain training inside the
 * original window (which the paper's ablation shows fails beyond Lc).
 */
final class ChunkedPoseSampler implements PositionSampler {

  private final int lc;
  private final int lt;
  private final int chunks;

  ChunkedPoseSampler(int trainingWindow, int targetLength, int chunks) {
    Samplers.checkLengths(trainingWindow, targetLength);
    if (chunks < 1 || chunks > trainingWindow) {
      throw new IllegalArgumentException("chunks: " + chunks + " is not in [1, trainingWindow " + trainingWindow + "]");
    }
    this.lc = trainingWindow;
    this.lt = targetLength;
    this.chunks = chunks;
  }

  @Override
  public Sample sample(long seed, long index, int[] document) {
    int n = Samplers.usableLength(document, (long) OfficialPoseSampler.MAX_DOCUMENT_WINDOWS * lc);
    int w = Math.min(n, lc);
    int k = Math.min(chunks, w); // a short document cannot hold more chunks than tokens
    SplittableRandom r = SampleRandom.of(seed, index);
    int[] starts = chunkStarts(r, w, k);

    int[] ids = new int[w];
    int[] positions = new int[w];
    int u = 0;
    int v = 0;
    for (int c = 0; c < k; c++) {
      if (c > 0) {
        u = SampleRandom.between(r, u, lt - w);
        v = SampleRandom.between(r, v, n - w);
      }
      int st = starts[c];
      int len = (c + 1 < k ? starts[c + 1] : w) - st;
      System.arraycopy(document, v + st, ids, st, len);
      for (int i = 0; i < len; i++) {
        positions[st + i] = u + st + i;
      }
    }
    return new Sample(ids, positions, ids.clone());
  }

  /** k sorted chunk starts: 0 and k - 1 distinct cut points drawn uniformly from [1, w - 1]. */
  private static int[] chunkStarts(SplittableRandom r, int w, int k) {
    int[] starts = new int[k];
    if (k == 1) {
      return starts;
    }
    if ((long) (k - 1) * 4 <= w - 1) {
      // few cuts: draw with rejection of duplicates (Floyd's algorithm would do too; k is small here)
      java.util.BitSet taken = new java.util.BitSet(w);
      for (int c = 1; c < k; c++) {
        int cut;
        do {
          cut = SampleRandom.between(r, 1, w - 1);
        } while (taken.get(cut));
        taken.set(cut);
        starts[c] = cut;
      }
    } else {
      // many cuts: a partial Fisher-Yates shuffle of 1 .. w-1
      int[] pool = new int[w - 1];
      for (int i = 0; i < pool.length; i++) {
        pool[i] = i + 1;
      }
      for (int c = 0; c < k - 1; c++) {
        int j = SampleRandom.between(r, c, pool.length - 1);
        int t = pool[c];
        pool[c] = pool[j];
        pool[j] = t;
        starts[c + 1] = pool[c];
      }
    }
    Arrays.sort(starts);
    return starts;
  }

  @Override
  public int trainingWindow() {
    return lc;
  }

  @Override
  public int targetLength() {
    return lt;
  }
}
