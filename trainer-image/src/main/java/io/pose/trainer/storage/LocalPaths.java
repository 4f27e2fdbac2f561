package io.pose.trainer.storage;

import java.nio.file.Path;

/** Where pvc:// and file:// URIs are on this machine (docs/trainer-contract.md, "Mounts"). */
public final class LocalPaths {
  private LocalPaths() {}

  /** pvc://claim/path as a local path: under the workspace for its own claim, else under the claim's mount. */
  public static Path pvc(StorageUri uri, Path workspace, String workspaceUri, Path pvcDir) {
    String claim = uri.authority();
    boolean own = workspaceUri != null && StorageUri.parse(workspaceUri, "POSE_WORKSPACE_URI").authority().equals(claim);
    Path root = (own ? workspace : pvcDir.resolve(claim)).toAbsolutePath().normalize();
    if (!java.nio.file.Files.isDirectory(root)) {
      // writing anyway would put the model on the pod's own disk, lost when it ends
      throw new IllegalArgumentException(uri + ": claim " + claim + " is not mounted at " + root);
    }
    Path target = root.resolve(uri.path()).normalize();
    if (!target.startsWith(root)) {
      throw new IllegalArgumentException(uri + ": the path leaves the claim");
    }
    if (target.equals(root)) {
      throw new IllegalArgumentException(uri + ": name a directory inside the claim (pvc://" + claim + "/path), not "
          + "the claim itself");
    }
    return target;
  }

  /** A file:// or pvc:// URI as a local path. */
  public static Path of(StorageUri uri, Path workspace, String workspaceUri, Path pvcDir) {
    return switch (uri.scheme()) {
      case FILE -> Path.of(uri.path()).toAbsolutePath().normalize();
      case PVC -> pvc(uri, workspace, workspaceUri, pvcDir);
      default -> throw new IllegalArgumentException(uri + " is not a local path");
    };
  }
}
