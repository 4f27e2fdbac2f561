package io.pose.operator.status;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StageStatus;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.JobObserver;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where the pipeline stands: each stage's state (observed from its Job, or kept from status when the stage
 * already ended), and which stage would start next.
 */
public record Assessment(EnumMap<Stage, StageStatus> stages, Optional<Stage> next, Optional<Stage> failed,
    Optional<Stage> active, boolean complete) {

  /**
   * @param previous the status before this reconciliation (terminal stage states are kept from it, so a
   *     deleted Job does not make a finished stage run again)
   */
  public static Assessment of(Resolved r, ContextExtensionStatus previous, Map<Stage, Job> jobs) {
    EnumMap<Stage, StageStatus> stages = new EnumMap<>(Stage.class);
    for (Stage stage : Stage.values()) {
      StageStatus recorded = previous.getStages() == null ? null : previous.getStages().get(stage);
      StageStatus s;
      boolean started = jobs.containsKey(stage) || (recorded != null && recorded.getJobName() != null);
      if (!r.isActive(stage) && !started) {
        // not configured (evaluation and publish may be removed until their stage starts)
        s = new StageStatus(StageState.Skipped);
      } else if (jobs.containsKey(stage)) {
        s = JobObserver.observe(jobs.get(stage), r.spec().suspended());
        if (s.getState() == StageState.Failed && recorded != null && recorded.getState() == StageState.Failed
            && recorded.getMessage() != null) {
          s.setMessage(recorded.getMessage()); // the pod's explanation, read once when the stage failed
        }
      } else if (recorded != null && recorded.getState() != null && recorded.getState().terminal()
          && recorded.getState() != StageState.Skipped) {
        s = recorded;
      } else if (recorded != null && recorded.getJobName() != null) {
        // the Job of a started stage disappeared (deleted by hand): it is created again and resumes
        s = new StageStatus(StageState.Pending);
        s.setJobName(recorded.getJobName());
      } else {
        s = new StageStatus(StageState.Pending);
      }
      stages.put(stage, s);
    }
    Optional<Stage> failed = stages.entrySet().stream().filter(e -> e.getValue().getState() == StageState.Failed)
        .map(Map.Entry::getKey).findFirst();
    Optional<Stage> active = stages.entrySet().stream().filter(e -> switch (e.getValue().getState()) {
      case Queued, Running, Suspended -> true;
      default -> false;
    }).map(Map.Entry::getKey).findFirst();
    Optional<Stage> next = Optional.empty();
    if (failed.isEmpty() && active.isEmpty()) {
      for (Stage stage : Stage.values()) {
        StageState state = stages.get(stage).getState();
        if (state == StageState.Pending) {
          next = Optional.of(stage);
          break;
        }
        if (state != StageState.Succeeded && state != StageState.Skipped) {
          break;
        }
      }
    }
    boolean complete = stages.values().stream()
        .allMatch(s -> s.getState() == StageState.Succeeded || s.getState() == StageState.Skipped);
    return new Assessment(stages, next, failed, active, complete);
  }

  public StageState state(Stage stage) {
    return stages.get(stage).getState();
  }
}
