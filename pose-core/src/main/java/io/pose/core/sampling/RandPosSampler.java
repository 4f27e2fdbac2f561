package io.pose.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The paper's "RandPos" baseline (the official code's train_preprocess_function_randomized): the first
 * w = min(n, Lc) tokens, at w distinct positions drawn uniformly from [0, Lt) and sorted. It covers every
 * distance too, but the paper finds it far worse than PoSE: neighbouring tokens rarely sit at neighbouring
 * positions.
 */
final class RandPosSampler implements PositionSampler {

  private final int lc;
  private final int lt;

  RandPosSampler(int trainingWindow, int targetLength) {
    Samplers.checkLengths(trainingWindow, targetLength);
    this.lc = trainingWindow;
    this.lt = targetLength;
  }

  @Override
  public Sample sample(long seed, long index, int[] document) {
    int w = Math.min(Samplers.usableLength(document, lc), lc);
    SplittableRandom r = SampleRandom.of(seed, index);
    // Floyd's algorithm: w distinct values from [0, lt) with w draws; the bit set returns them sorted
    java.util.BitSet chosen = new java.util.BitSet(lt);
    for (int j = lt - w; j < lt; j++) {
      int t = SampleRandom.between(r, 0, j);
      chosen.set(chosen.get(t) ? j : t);
    }
    int[] positions = chosen.stream().toArray();
    int[] ids = Arrays.copyOf(document, w);
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
