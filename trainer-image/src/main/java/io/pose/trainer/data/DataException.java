package io.pose.trainer.data;

/** Training or evaluation data that cannot be used, with the source and the reason. */
public class DataException extends RuntimeException {
  public DataException(String message) {
    super(message);
  }
}
