package io.pose.operator.model;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import java.util.LinkedHashMap;
import java.util.Map;

/** Labels and annotations the operator puts on what it creates. */
public final class Labels {
  private Labels() {}

  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String OPERATOR = "pose-operator";
  public static final String NAME = "app.kubernetes.io/name";
  public static final String INSTANCE = "app.kubernetes.io/instance";
  public static final String COMPONENT = "app.kubernetes.io/component";
  public static final String PART_OF = "app.kubernetes.io/part-of";
  public static final String CONTEXT_EXTENSION = "pose.io/context-extension";
  public static final String STAGE = "pose.io/stage";

  /** Informers only cache objects carrying this selector. */
  public static final String SELECTOR = MANAGED_BY + "=" + OPERATOR;

  public static final String KUEUE_QUEUE = "kueue.x-k8s.io/queue-name";
  public static final String VOLCANO_GROUP = "scheduling.k8s.io/group-name";
  public static final String VOLCANO_QUEUE = "scheduling.volcano.sh/queue-name";
  public static final String VOLCANO_SCHEDULER = "volcano";
  public static final String JOB_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index";
  /** Set by Kubernetes on a Job's pods since its first release (batch.kubernetes.io/job-name since 1.27). */
  public static final String JOB_NAME = "job-name";
  /** On a Job suspended because of spec.suspend (not by Kueue), so resuming can tell the two apart. */
  public static final String SUSPENDED_BY_SPEC = "pose.io/suspended-by-spec";

  /** Labels of every object belonging to a ContextExtension. */
  public static Map<String, String> of(ContextExtension cx) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(NAME, "pose");
    labels.put(INSTANCE, cx.getMetadata().getName());
    labels.put(PART_OF, "pose");
    labels.put(MANAGED_BY, OPERATOR);
    labels.put(CONTEXT_EXTENSION, cx.getMetadata().getName());
    return labels;
  }

  /** Labels of a stage's Job and pods. */
  public static Map<String, String> of(ContextExtension cx, Stage stage) {
    Map<String, String> labels = of(cx);
    labels.put(NAME, "pose-trainer");
    labels.put(COMPONENT, stage.command());
    labels.put(STAGE, stage.command());
    return labels;
  }

  /** Selects the training pods (the rendezvous Service's selector). */
  public static Map<String, String> trainingPods(ContextExtension cx) {
    return Map.of(CONTEXT_EXTENSION, cx.getMetadata().getName(), STAGE, Stage.TRAIN.command());
  }
}
