package io.pose.trainer.data;

import java.io.IOException;

/** A corpus of tokenized documents, addressed by index. */
public interface Documents extends AutoCloseable {

  int size();

  /** The number of tokens of a document, without reading them. */
  int length(int index) throws IOException;

  int[] tokens(int index) throws IOException;

  /** Where the documents come from, for messages. */
  String describe();

  @Override
  default void close() throws IOException {}
}
