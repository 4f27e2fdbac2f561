package io.pose.operator.observe;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StageStatus;
import java.util.Optional;

/** Reads a stage's state from its Job. */
public final class JobObserver {
  private JobObserver() {}

  /**
   * @param job the stage's Job
   * @param suspendedByUser whether spec.suspend is set (a suspended Job is then Suspended, not Queued)
   */
  public static StageStatus observe(Job job, boolean suspendedByUser) {
    StageStatus s = new StageStatus();
    s.setJobName(job.getMetadata().getName());
    JobStatus status = job.getStatus();
    if (status != null) {
      s.setStartTime(status.getStartTime());
      s.setCompletionTime(status.getCompletionTime());
      s.setFailedPods(status.getFailed() == null || status.getFailed() == 0 ? null : status.getFailed());
    }
    Optional<JobCondition> complete = condition(job, "Complete");
    Optional<JobCondition> failed = condition(job, "Failed").or(() -> condition(job, "FailureTarget"));
    if (complete.isPresent()) {
      s.setState(StageState.Succeeded);
    } else if (failed.isPresent()) {
      s.setState(StageState.Failed);
      JobCondition c = failed.get();
      s.setMessage(c.getMessage() != null && !c.getMessage().isBlank() ? c.getMessage() : c.getReason());
    } else if (Boolean.TRUE.equals(job.getSpec().getSuspend())) {
      s.setState(suspendedByUser ? StageState.Suspended : StageState.Queued);
    } else if (status != null && status.getActive() != null && status.getActive() > 0
        && (status.getReady() == null || status.getReady() > 0)) {
      s.setState(StageState.Running);
    } else {
      s.setState(StageState.Queued); // created, pods not scheduled or not started yet
    }
    return s;
  }

  private static Optional<JobCondition> condition(Job job, String type) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return job.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus()))
        .findFirst();
  }
}
