package io.pose.core.sampling;

import java.util.Arrays;

/**
 * One training sample: token ids, the position id of each token, and next-token labels. Labels equal the
 * token ids (the model shifts them); a position id may exceed the sample's length, which is the point of PoSE.
 */
public record Sample(int[] inputIds, int[] positionIds, int[] labels) {

  public Sample {
    if (inputIds.length != positionIds.length || inputIds.length != labels.length) {
      throw new IllegalArgumentException("inputIds, positionIds and labels must have the same length, got "
          + inputIds.length + ", " + positionIds.length + ", " + labels.length);
    }
  }

  public int length() {
    return inputIds.length;
  }

  /** The largest position id (the longest distance the sample teaches is this minus the first position). */
  public int maxPosition() {
    return positionIds.length == 0 ? -1 : positionIds[positionIds.length - 1];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Sample s && Arrays.equals(inputIds, s.inputIds) && Arrays.equals(positionIds, s.positionIds)
        && Arrays.equals(labels, s.labels);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(inputIds) + Arrays.hashCode(positionIds)) + Arrays.hashCode(labels);
  }

  @Override
  public String toString() {
    return "Sample[length=" + length() + ", positions " + (length() == 0 ? "none" : positionIds[0] + ".." + maxPosition())
        + "]";
  }
}
