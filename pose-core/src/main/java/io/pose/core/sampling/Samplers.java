package io.pose.core.sampling;

/** The position samplers: PoSE (official two-chunk rule, or N chunks) and the paper's two baselines. */
public final class Samplers {
  private Samplers() {}

  /** How positions are assigned (the values of spec.pose.method). */
  public enum Method { POSE, RANDPOS, FULL }

  /**
   * The sampler for a method.
   *
   * @param trainingWindow Lc, tokens per sample
   * @param targetLength Lt, the context length to teach
   * @param chunks N for PoSE: 2 selects the official rule, other values the paper's general form
   */
  public static PositionSampler of(Method method, int trainingWindow, int targetLength, int chunks) {
    return switch (method) {
      case POSE -> chunks == 2 ? official(trainingWindow, targetLength) : chunked(trainingWindow, targetLength, chunks);
      case RANDPOS -> randPos(trainingWindow, targetLength);
      case FULL -> fullLength(targetLength);
    };
  }

  /** PoSE with two chunks, as the official code samples them. */
  public static PositionSampler official(int trainingWindow, int targetLength) {
    return new OfficialPoseSampler(trainingWindow, targetLength);
  }

  /** PoSE in the paper's general form with N chunks. */
  public static PositionSampler chunked(int trainingWindow, int targetLength, int chunks) {
    return new ChunkedPoseSampler(trainingWindow, targetLength, chunks);
  }

  /** Baseline: Lc sorted distinct positions drawn from [0, Lt). */
  public static PositionSampler randPos(int trainingWindow, int targetLength) {
    return new RandPosSampler(trainingWindow, targetLength);
  }

  /** Baseline: full-length fine-tuning, truncation to Lt and positions 0 .. n-1. */
  public static PositionSampler fullLength(int targetLength) {
    return new FullLengthSampler(targetLength);
  }

  static void checkLengths(int trainingWindow, int targetLength) {
    if (trainingWindow < 1) {
      throw new IllegalArgumentException("training window: " + trainingWindow + " must be at least 1");
    }
    if (targetLength <= trainingWindow) {
      throw new IllegalArgumentException("target length: " + targetLength + " must exceed the training window "
          + trainingWindow);
    }
  }

  /** The number of tokens a sampler may use: the document's length, capped. */
  static int usableLength(int[] document, long cap) {
    if (document.length == 0) {
      throw new IllegalArgumentException("document: empty; documents must hold at least one token");
    }
    return (int) Math.min(document.length, cap);
  }
}
