package io.pose.core.sampling;

import java.util.SplittableRandom;

/**
 * PoSE with two chunks, exactly as the official code samples them (dwzhu-pku/PoSE, src/train_pose.py,
 * train_preprocess_function_pose), for a document of n tokens (at most 5 Lc are kept) and w = min(n, Lc):
 * <ol>
 *   <li>the first chunk is tokens [0, l0) with l0 uniform in [1, (w+1) div 2], at positions 0 .. l0-1;</li>
 *   <li>the second chunk ends at e uniform in [w, n] and has w - l0 tokens, [e - (w - l0), e), so the sample
 *       holds w tokens and no token twice;</li>
 *   <li>its positions are l0 .. w-1 shifted by a skip s uniform in [0, Lt - w], so the largest is at most Lt - 1.</li>
 * </ol>
 * The skip's upper end is Lt - w as in the code (the paper writes Lt - Lc; the two agree for documents of at
 * least Lc tokens). Draws are uniform and inclusive at both ends, like Python's random.randint.
 */
final class OfficialPoseSampler implements PositionSampler {

  /** The official code tokenizes with truncation to 5 Lc tokens. */
  static final int MAX_DOCUMENT_WINDOWS = 5;

  private final int lc;
  private final int lt;

  OfficialPoseSampler(int trainingWindow, int targetLength) {
    Samplers.checkLengths(trainingWindow, targetLength);
    this.lc = trainingWindow;
    this.lt = targetLength;
  }

  @Override
  public Sample sample(long seed, long index, int[] document) {
    int n = Samplers.usableLength(document, (long) MAX_DOCUMENT_WINDOWS * lc);
    int w = Math.min(n, lc);
    SplittableRandom r = SampleRandom.of(seed, index);
    int l0 = SampleRandom.between(r, 1, (w + 1) / 2);
    int end = SampleRandom.between(r, w, n);
    int start2 = end - (w - l0);
    int skip = SampleRandom.between(r, 0, lt - w);

    int[] ids = new int[w];
    int[] positions = new int[w];
    System.arraycopy(document, 0, ids, 0, l0);
    System.arraycopy(document, start2, ids, l0, w - l0);
    for (int i = 0; i < l0; i++) {
      positions[i] = i;
    }
    for (int i = l0; i < w; i++) {
      positions[i] = i + skip;
    }
    return new Sample(ids, positions, ids.clone());
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
