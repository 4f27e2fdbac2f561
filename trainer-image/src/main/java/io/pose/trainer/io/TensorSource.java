package io.pose.trainer.io;

import java.io.IOException;

/**
 * Tensors that can be read in ranges, whatever the files they are stored in: a Hugging Face model directory
 * ({@link Checkpoint}), or the pieces that the ranks of a sharded run wrote ({@link ShardedTensors}). A rank reads
 * only the elements it holds.
 */
public interface TensorSource extends AutoCloseable {

  boolean has(String name);

  /** The tensor's shape (what its elements are laid out as, row-major). */
  long[] shape(String name);

  /** Elements [begin, begin + count) of the flattened tensor, widened to fp32. */
  float[] floats(String name, long begin, int count) throws IOException;

  /** Where the tensors come from, for messages. */
  String describe();

  /** Releases the files (nothing by default). */
  @Override
  default void close() throws IOException {}
}
