package io.pose.trainer.publish;

import io.pose.api.contract.TrainerContract;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.nio.file.Path;

/** The target for a publish URI. */
public final class PublishTargets {
  private PublishTargets() {}

  /** Creates the target of one publish. */
  @FunctionalInterface
  public interface Factory {
    PublishTarget create(StorageUri uri, Credentials credentials, boolean privateRepository) throws IOException;
  }

  /**
   * The production targets.
   *
   * @param workspace the workspace directory
   * @param workspaceUri the workspace as pvc://claim, or null outside Kubernetes
   * @param pvcDir where other claims are mounted ({@link TrainerContract#PVC_DIR})
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir) {
    return (uri, credentials, privateRepository) -> switch (uri.scheme()) {
      case FILE -> new DirectoryTarget(Path.of(uri.path()), uri.uri());
      case PVC -> new DirectoryTarget(pvcPath(uri, workspace, workspaceUri, pvcDir), uri.uri());
      case S3, HF, OCI -> throw new UnsupportedOperationException(uri.scheme().prefix() + " targets are not built yet");
    };
  }

  /** pvc://claim/path as a local path: under the workspace for its own claim, else under the claim's mount. */
  static Path pvcPath(StorageUri uri, Path workspace, String workspaceUri, Path pvcDir) {
    String claim = uri.authority();
    boolean own = workspaceUri != null && StorageUri.parse(workspaceUri, "POSE_WORKSPACE_URI").authority().equals(claim);
    Path root = own ? workspace : pvcDir.resolve(claim);
    if (!java.nio.file.Files.isDirectory(root)) {
      // writing anyway would put the model on the pod's own disk, lost when it ends
      throw new IllegalArgumentException(uri + ": claim " + claim + " is not mounted at " + root);
    }
    if (uri.path().isEmpty()) {
      throw new IllegalArgumentException(uri + ": name a directory inside the claim (pvc://" + claim + "/path)");
    }
    Path target = root.resolve(uri.path()).normalize();
    if (!target.startsWith(root)) {
      throw new IllegalArgumentException(uri + ": the path leaves the claim");
    }
    return target;
  }
}
