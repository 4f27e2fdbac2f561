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
    return standard(workspace, workspaceUri, pvcDir, OciTarget.DEFAULT_BASE_IMAGE, HubTarget.endpoint(System.getenv()));
  }

  /**
   * @param modelCarBase the base image of oci:// ModelCar images (it needs a shell: KServe's sidecar runs one)
   * @param hubEndpoint the Hugging Face Hub hf:// targets go to
   */
  public static Factory standard(Path workspace, String workspaceUri, Path pvcDir, String modelCarBase,
      java.net.URI hubEndpoint) {
    return (uri, credentials, privateRepository) -> switch (uri.scheme()) {
      case FILE -> new DirectoryTarget(Path.of(uri.path()), uri.uri());
      case PVC -> new DirectoryTarget(io.pose.trainer.storage.LocalPaths.pvc(uri, workspace, workspaceUri, pvcDir), uri.uri());
      case HF -> new HubTarget(uri, credentials, hubEndpoint, privateRepository);
      case S3 -> new S3Target(uri, credentials);
      // Jib's layer cache is about the model's size: on the workspace volume, not the pod's small disk
      case OCI -> new OciTarget(uri, credentials, modelCarBase, false, workspace);
    };
  }

}
