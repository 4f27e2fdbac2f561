package io.pose.trainer.publish;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a published model goes. An implementation uploads every regular file under a local directory (the tree:
 * model files, model card, training configuration, evaluation results) so that readers of the target see the whole
 * tree or nothing of it: a failed or interrupted publish leaves no partial commit, manifest or tag behind.
 * Uploads are verified (sizes and checksums) before the publish counts as done.
 */
public interface PublishTarget {

  /**
   * @param tree the directory to publish; its relative paths become the target's paths
   * @param message what the publish is (a commit message for the Hub)
   * @return where the model is and the target's revision of it
   * @throws io.pose.trainer.storage.CredentialsException for missing or rejected credentials
   * @throws IOException for anything a retry of the stage may cure (network, server errors after retries)
   */
  Published publish(Path tree, String message) throws IOException;

  /**
   * @param uri the published location
   * @param revision the target's revision of what was published: a Hub commit sha, an OCI manifest digest, the
   *     S3 manifest object's ETag, or a content hash for file copies
   */
  record Published(String uri, String revision) {}
}
