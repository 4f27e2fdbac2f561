package io.pose.core.hf;

/** A config.json that cannot be used, with the file, the key and the problem in the message. */
public class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
