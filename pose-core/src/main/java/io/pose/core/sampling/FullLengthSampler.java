package io.pose.core.sampling;

import java.util.Arrays;

/**
 * The full-length fine-tuning baseline (the official code's train_preprocess_function_pi): the document
 * truncated to Lt tokens at positions 0 .. n-1. Attention then costs Lt, which is what PoSE avoids.
 */
final class FullLengthSampler implements PositionSampler {

  private final int lt;

  FullLengthSampler(int targetLength) {
    if (targetLength < 1) {
      throw new IllegalArgumentException("target length: " + targetLength + " must be at least 1");
    }
    this.lt = targetLength;
  }

  @Override
  public Sample sample(long seed, long index, int[] document) {
    int n = Samplers.usableLength(document, lt);
    int[] ids = Arrays.copyOf(document, n);
    int[] positions = new int[n];
    for (int i = 0; i < n; i++) {
      positions[i] = i;
    }
    return new Sample(ids, positions, ids.clone());
  }

  @Override
  public int trainingWindow() {
    return lt;
  }

  @Override
  public int targetLength() {
    return lt;
  }
}
