package io.pose.trainer.storage.hub;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Git's blob id, what the Hub lists as a file's {@code blobId}: the sha1 of {@code "blob <size>\0"} followed by the
 * content. Computed streaming: start with {@link #digest}, then feed the content.
 */
public final class GitBlob {

  private GitBlob() {}

  /** A SHA-1 digest that has already read the header of a blob of {@code size} bytes. */
  public static MessageDigest digest(long size) {
    MessageDigest sha1;
    try {
      sha1 = MessageDigest.getInstance("SHA-1");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is part of every JDK", e);
    }
    sha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    return sha1;
  }
}
