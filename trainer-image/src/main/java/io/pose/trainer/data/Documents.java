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

  /** Documents held in memory (tests, benchmarks, generated corpora). */
  static Documents of(int[][] documents, String description) {
    return new Documents() {
      @Override
      public int size() {
        return documents.length;
      }

      @Override
      public int length(int index) {
        return documents[index].length;
      }

      @Override
      public int[] tokens(int index) {
        return documents[index];
      }

      @Override
      public String describe() {
        return description;
      }
    };
  }
}
