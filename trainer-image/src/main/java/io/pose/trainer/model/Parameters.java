package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;

/**
 * Where the decoder finds its parameters, and what runs around each unit of them during training: the seam through
 * which parallelism is applied from outside the model (ZeRO gathers a unit's weights before it runs, releases them
 * after, and takes its gradients away right after its backward). The decoder stays single-device.
 *
 * <p>Units (see {@link DecoderWeights#units}): unit {@link #ROOT} holds the embedding, the final norm and the LM
 * head, in use from the first forward operation to the last backward one; unit {@code l + 1} holds decoder layer l.
 * In one training micro-batch the decoder calls {@code beforeForward} and {@code afterForward} for each unit in
 * forward order, then {@code beforeBackward} and {@code afterBackward} in backward order; the root's
 * {@code afterForward} and {@code beforeBackward} are not called (its weights are needed throughout).
 */
public interface Parameters {

  /** The unit of the embedding, final norm and LM head. */
  int ROOT = 0;

  /** The unit of decoder layer l. */
  static int layerUnit(int layer) {
    return layer + 1;
  }

  /** A parameter by its Hugging Face name, for the unit now running. */
  NDArray get(String name);

  /**
   * Whether the backward must run one layer at a time, so that {@link #afterBackward} of a unit is called as soon as
   * its gradients are complete (and before the next unit's backward): what sharding gradients needs.
   */
  default boolean layerwise() {
    return false;
  }

  default void beforeForward(int unit) {}

  default void afterForward(int unit) {}

  default void beforeBackward(int unit) {}

  default void afterBackward(int unit) {}
}
