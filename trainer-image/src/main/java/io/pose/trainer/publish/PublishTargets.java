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

  /** What the stages keep in the workspace: a publish must neither replace nor hold them. */
  static final java.util.List<String> STAGE_STATE = java.util.List.of(
      io.pose.api.contract.TrainerContract.Workspace.BASE_MODEL, io.pose.api.contract.TrainerContract.Workspace.EXTENDED_MODEL,
      io.pose.api.contract.TrainerContract.Workspace.CHECKPOINTS, "data", "cache",
      io.pose.api.contract.TrainerContract.Workspace.EVAL_RESULTS, io.pose.api.contract.TrainerContract.Workspace.LOGS,
      ".publish-tree");

  /** The destination, unless it is the workspace, holds it, or is (inside) a stage's state. */
  static Path outsideStageState(Path destination, Path workspace, StorageUri uri) {
    Path ws = workspace.toAbsolutePath().normalize();
    Path dest = destination.toAbsolutePath().normalize();
    if (ws.startsWith(dest)) {
      throw new IllegalArgumentException(uri + " is the workspace or holds it: publishing there would replace it");
    }
    for (String state : STAGE_STATE) {
      if (dest.startsWith(ws.resolve(state))) {
        throw new IllegalArgumentException(uri + " is inside the workspace's " + state + "/, which a stage keeps; "
            + "publish to another directory (pvc://claim/published/...)");
      }
    }
    return dest;
  }

  /**
   * The production targets.
   *
   * @param workspace the workspace directory
   * @param workspaceUri the workspace as pvc://claim, or null outside Kubernetes
   * @param pvcDir where other claims are mounted ({@link TrainerContract#PVC_DIR})
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir) {
    return standard(workspace, workspaceUri, pvcDir, OciTarget.DEFAULT_BASE_IMAGE, HubTarget.endpoint(System.getenv()));
  }

  /**
   * @param modelCarBase the base image of oci:// ModelCar images (it needs a shell: KServe's sidecar runs one)
   * @param hubEndpoint the Hugging Face Hub hf:// targets go to
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir, String modelCarBase,
      java.net.URI hubEndpoint) {
    return (uri, credentials, privateRepository) -> switch (uri.scheme()) {
      case FILE, PVC -> new DirectoryTarget(outsideStageState(
          io.pose.trainer.storage.LocalPaths.of(uri, workspace, workspaceUri, pvcDir), workspace, uri), uri.uri());
      case HF -> new HubTarget(uri, credentials, hubEndpoint, privateRepository);
      case S3 -> new S3Target(uri, credentials);
      // Jib's layer cache is about the model's size: on the workspace volume, not the pod's small disk
      case OCI -> new OciTarget(uri, credentials, modelCarBase, false, workspace);
    };
  }

}
