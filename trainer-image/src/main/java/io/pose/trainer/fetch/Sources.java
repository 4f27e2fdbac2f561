package io.pose.trainer.fetch;

import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.LocalPaths;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.nio.file.Path;

/** The source for a URI. */
public final class Sources {
  private Sources() {}

  /** Creates the source of one fetch. */
  @FunctionalInterface
  public interface Factory {
    Source create(StorageUri uri, Credentials credentials) throws IOException;
  }

  /**
   * The production sources.
   *
   * @param workspaceUri the workspace as pvc://claim, or null outside Kubernetes
   * @param pvcDir where other claims are mounted
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir, java.net.URI hubEndpoint) {
    return (uri, credentials) -> switch (uri.scheme()) {
      case FILE, PVC -> new DirectorySource(LocalPaths.of(uri, workspace, workspaceUri, pvcDir), uri.uri());
      case S3 -> new S3Source(uri, credentials);
      case HF -> throw new UnsupportedOperationException(uri.scheme().prefix() + " sources are not built yet");
      case OCI -> throw new IllegalArgumentException(uri + ": oci:// is a publish target, not a source");
    };
  }
}
