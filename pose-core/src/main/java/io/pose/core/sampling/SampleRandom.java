package io.pose.core.sampling;

import java.util.SplittableRandom;

/**
 * The random stream of one sample: a pure function of (seed, sample index), so that a resumed run and a
 * second run with the same seed draw exactly the same samples, in any order and on any number of workers.
 */
final class SampleRandom {
  private SampleRandom() {}

  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

  static SplittableRandom of(long seed, long index) {
    return new SplittableRandom(mix(mix(seed) + GOLDEN_GAMMA * (index + 1)));
  }

  /** Uniform integer in [lo, hi], both inclusive (the convention of Python's random.randint). */
  static int between(SplittableRandom r, int lo, int hi) {
    if (hi < lo) {
      throw new IllegalArgumentException("empty range [" + lo + ", " + hi + "]");
    }
    return lo == hi ? lo : r.nextInt(lo, hi + 1);
  }

  /** SplitMix64's finalizer: spreads nearby seeds over the whole 64-bit space. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
