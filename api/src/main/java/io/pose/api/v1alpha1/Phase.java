package io.pose.api.v1alpha1;

/** Where a ContextExtension is in its pipeline. */
public enum Phase {
  Pending, Fetching, Training, Evaluating, Publishing, Succeeded, Failed, Suspended
}
