package io.pose.core.sampling;

/**
 * Turns a tokenized document into a training sample with position ids. Implementations are pure functions of
 * (seed, sample index, document): same inputs, same sample.
 */
public interface PositionSampler {

  /**
   * @param seed the run's sampling seed
   * @param index the sample's global index in the run (data-loader position), so each sample draws independently
   * @param document the document's token ids (not modified)
   */
  Sample sample(long seed, long index, int[] document);

  /** Lc: at most this many tokens per sample. */
  int trainingWindow();

  /** Lt: every position id is below this. */
  int targetLength();
}
