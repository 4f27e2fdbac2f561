package io.pose.core.sampling;

import java.util.List;

/**
 * Samples padded to a common length, row-major [batch, length]: padding token ids are the pad id, padding
 * labels -100 (ignored by the loss) and padding positions 0, as in the official collator.
 */
public record Batch(int size, int length, int[] inputIds, int[] positionIds, int[] labels, int[] attentionMask) {

  /** The label value the loss ignores. */
  public static final int IGNORE_INDEX = -100;

  /** Right-pads the samples to the longest one. */
  public static Batch collate(List<Sample> samples, int padTokenId) {
    int length = samples.stream().mapToInt(Sample::length).max().orElse(0);
    int size = samples.size();
    int[] ids = new int[size * length];
    int[] positions = new int[size * length];
    int[] labels = new int[size * length];
    int[] mask = new int[size * length];
    java.util.Arrays.fill(ids, padTokenId);
    java.util.Arrays.fill(labels, IGNORE_INDEX);
    for (int b = 0; b < size; b++) {
      Sample s = samples.get(b);
      int off = b * length;
      System.arraycopy(s.inputIds(), 0, ids, off, s.length());
      System.arraycopy(s.positionIds(), 0, positions, off, s.length());
      System.arraycopy(s.labels(), 0, labels, off, s.length());
      java.util.Arrays.fill(mask, off, off + s.length(), 1);
    }
    return new Batch(size, length, ids, positions, labels, mask);
  }
}
