package io.pose.operator.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * Kubernetes-convention conditions (metav1.Condition): status is the string "True", "False" or
 * "Unknown", reasons are CamelCase, and lastTransitionTime changes only when the status does.
 */
public final class Conditions {
  private Conditions() {}

  /** The resource's input is valid (spec and, once fetched, the model). */
  public static final String VALID = "Valid";
  /** A stage is queued or running. */
  public static final String PROGRESSING = "Progressing";
  public static final String SUSPENDED = "Suspended";
  /** Every stage succeeded. */
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  /** The extended model is available (same as Succeeded; the name generic health checks look for). */
  public static final String READY = "Ready";
  /** kstatus: work is under way (abnormal-true, so GitOps tools wait while it is True). */
  public static final String RECONCILING = "Reconciling";
  /** kstatus: the resource cannot make progress without a change. */
  public static final String STALLED = "Stalled";

  public static final List<String> ALL = List.of(VALID, READY, PROGRESSING, SUCCEEDED, FAILED, SUSPENDED, RECONCILING,
      STALLED);

  /**
   * Sets a condition in a copy of the list, keeping lastTransitionTime when the status is unchanged.
   *
   * @param now RFC 3339 time of this observation
   */
  public static List<Condition> set(List<Condition> conditions, String type, boolean status, String reason,
      String message, Long generation, String now) {
    List<Condition> out = new ArrayList<>(conditions == null ? List.of() : conditions);
    String value = status ? "True" : "False";
    Condition previous = out.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    String transition = previous != null && value.equals(previous.getStatus()) && previous.getLastTransitionTime() != null
        ? previous.getLastTransitionTime() : now;
    Condition next = new ConditionBuilder()
        .withType(type)
        .withStatus(value)
        .withReason(reason)
        .withMessage(message == null ? "" : message)
        .withObservedGeneration(generation)
        .withLastTransitionTime(transition)
        .build();
    if (previous == null) {
      out.add(next);
    } else {
      out.set(out.indexOf(previous), next);
    }
    out.sort(java.util.Comparator.comparingInt(c -> ALL.indexOf(c.getType()) < 0 ? ALL.size() : ALL.indexOf(c.getType())));
    return out;
  }
}
