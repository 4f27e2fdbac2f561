package io.pose.api.v1alpha1;

/**
 * What happens to the workspace claim the operator created when the ContextExtension is deleted (a claim named by
 * spec.storage.workspace.existingClaim is never the operator's to delete).
 */
public enum WorkspaceRetention {
  /** Kept once training has written a checkpoint (the default): days of GPU time are not deleted with a resource. */
  RetainCheckpoints,
  /** Always kept. */
  Retain,
  /** Deleted with the resource (by the garbage collector, through its owner reference). */
  Delete;

  /** The policy in force: RetainCheckpoints when the field is absent. */
  public static WorkspaceRetention of(ContextExtensionSpec spec) {
    return spec == null || spec.getWorkspaceRetention() == null ? RetainCheckpoints : spec.getWorkspaceRetention();
  }
}
