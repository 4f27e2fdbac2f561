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
    /**
     * @param credentialsField the spec field naming the Secret, for messages ("set spec.model.credentialsSecret")
     */
    Source create(StorageUri uri, Credentials credentials, String credentialsField) throws IOException;
  }

  /**
   * The production sources.
   *
   * @param workspaceUri the workspace as pvc://claim, or null outside Kubernetes
   * @param pvcDir where other claims are mounted
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir, java.net.URI hubEndpoint) {
    return (uri, credentials, credentialsField) -> switch (uri.scheme()) {
      case FILE, PVC -> new DirectorySource(LocalPaths.of(uri, workspace, workspaceUri, pvcDir), uri.uri());
      case S3 -> new S3Source(uri, credentials);
      case HF -> new HubSource(uri, credentials, credentialsField, hubEndpoint);
      case OCI -> throw new IllegalArgumentException(uri + ": oci:// is a publish target, not a source");
    };
  }
}
