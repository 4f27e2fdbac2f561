package io.pose.api.v1alpha1;

/** The state of one stage, observed from its Job. */
public enum StageState {
  /** Not reached yet. */
  Pending,
  /** The Job exists and waits for admission (Kueue) or for its pods to be scheduled. */
  Queued,
  Running,
  Suspended,
  Succeeded,
  Failed,
  /** Not configured for this resource (no evaluation or no publish target). */
  Skipped;

  public boolean terminal() { return this == Succeeded || this == Failed || this == Skipped; }
}
