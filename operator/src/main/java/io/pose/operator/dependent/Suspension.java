package io.pose.operator.dependent;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Resolved;
import java.util.Optional;

/** The only change ever made to an existing stage Job: its {@code spec.suspend}. */
public final class Suspension {
  private Suspension() {}

  /**
   * The suspend value the Job should get, or empty when it is right as it is. spec.suspend wins; otherwise a
   * Job is resumed, except one waiting for Kueue (Kueue owns the suspend field of the Jobs it queues and lifts
   * it when it admits them). A finished Job is left alone.
   */
  public static Optional<Boolean> change(Job job, Resolved r) {
    if (finished(job)) {
      return Optional.empty();
    }
    boolean actual = Boolean.TRUE.equals(job.getSpec().getSuspend());
    boolean desired = r.spec().suspended() || (r.kueue() && actual && !suspendedBySpec(job));
    return desired == actual ? Optional.empty() : Optional.of(desired);
  }

  /** Sets the Job's suspend flag as {@link #change} says, marking who suspended it. */
  public static Job apply(KubernetesClient client, Job job, Resolved r) {
    Optional<Boolean> change = change(job, r);
    if (change.isEmpty()) {
      return job;
    }
    boolean suspend = change.get();
    return client.resource(job).edit(j -> {
      j.getSpec().setSuspend(suspend);
      if (suspend) {
        j.getMetadata().getAnnotations().put(Labels.SUSPENDED_BY_SPEC, "true");
      } else {
        j.getMetadata().getAnnotations().remove(Labels.SUSPENDED_BY_SPEC);
      }
      return j;
    });
  }

  private static boolean suspendedBySpec(Job job) {
    return job.getMetadata().getAnnotations() != null
        && "true".equals(job.getMetadata().getAnnotations().get(Labels.SUSPENDED_BY_SPEC));
  }

  private static boolean finished(Job job) {
    return job.getStatus() != null && job.getStatus().getConditions() != null && job.getStatus().getConditions().stream()
        .anyMatch(c -> ("Complete".equals(c.getType()) || "Failed".equals(c.getType())) && "True".equals(c.getStatus()));
  }
}
