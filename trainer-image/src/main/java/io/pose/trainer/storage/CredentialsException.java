package io.pose.trainer.storage;

/**
 * Credentials that are missing or that the source or target rejected: the contract's exit code 4
 * (CredentialsRejected). Messages never carry the secret values.
 */
public final class CredentialsException extends RuntimeException {
  public CredentialsException(String message) {
    super(message);
  }

  public CredentialsException(String message, Throwable cause) {
    super(message, cause);
  }
}
