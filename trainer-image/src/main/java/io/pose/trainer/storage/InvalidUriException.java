package io.pose.trainer.storage;

/** A storage URI that does not parse; the message names the spec field and the accepted shapes. */
public final class InvalidUriException extends IllegalArgumentException {
  public InvalidUriException(String message) {
    super(message);
  }
}
