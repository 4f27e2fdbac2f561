package io.pose.operator.reconciler;

import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.RetryStatus;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.v1alpha1.StagesStatus;
import io.pose.operator.model.Names;
import io.pose.operator.status.Assessment;
import io.pose.operator.status.StatusAssembler.Event;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A retry without deleting the resource: setting the annotation {@value #ANNOTATION} to a new value (a date, a
 * counter) starts a failed or finished run again, once per value. The failed stage and every later one run again
 * (Train when no stage failed: a quality gate that stopped the run, or a run that succeeded and should be evaluated
 * or published again); earlier stages keep their results. Training resumes from the workspace's last complete
 * checkpoint. The replaced Jobs are deleted and ignored until they are gone, their progress reports are cleared, and
 * new Jobs of the same names are created.
 */
final class Retry {

  static final String ANNOTATION = "pose.io/retry";

  private Retry() {}

  /** @param from the stage the run starts again from; empty when the request was not honoured */
  record Outcome(Optional<Stage> from, Optional<Event> event) {
    static final Outcome NONE = new Outcome(Optional.empty(), Optional.empty());
  }

  /** The annotation's value, when it is one not acted on yet. */
  static Optional<String> requested(ContextExtension cx, ContextExtensionStatus previous) {
    String token = cx.getMetadata().getAnnotations() == null ? null : cx.getMetadata().getAnnotations().get(ANNOTATION);
    if (token == null || (previous.getRetry() != null && token.equals(previous.getRetry().getObserved()))) {
      return Optional.empty();
    }
    return Optional.of(token);
  }

  /**
   * Acts on a new retry request: records it in {@code previous} (the status this reconciliation starts from) and,
   * when the run failed or finished, resets the stages from the one to run again, deletes their Jobs and clears
   * their progress reports.
   */
  static Outcome apply(KubernetesClient client, ContextExtension cx, ContextExtensionStatus previous, Assessment a,
      Map<Stage, Job> jobs, String token, boolean hadStatus, String now) {
    RetryStatus retry = previous.getRetry() == null ? new RetryStatus() : previous.getRetry();
    previous.setRetry(retry);
    retry.setObserved(token);
    Optional<Stage> from = a.failed().or(() -> finished(a, previous) ? Optional.of(Stage.TRAIN) : Optional.empty());
    if (from.isEmpty()) {
      // a run in progress (or not started) has nothing to retry; the value is recorded so it acts once
      return new Outcome(Optional.empty(), hadStatus ? Optional.of(new Event("Normal", "RetryIgnored", ANNOTATION + "="
          + token + ": nothing to retry while the run is " + Optional.ofNullable(previous.getPhase()).map(Enum::name)
          .orElse("starting") + " (a retry acts on a failed or finished run)")) : Optional.empty());
    }
    Stage start = from.get();
    List<String> replaced = new ArrayList<>(retry.getReplacedJobs() == null ? List.of() : retry.getReplacedJobs());
    String namespace = cx.getMetadata().getNamespace();
    Map<String, Object> clearedReports = new LinkedHashMap<>();
    StagesStatus stages = previous.getStages() == null ? new StagesStatus() : previous.getStages();
    for (Stage stage : Stage.values()) {
      if (stage.compareTo(start) < 0) {
        continue;
      }
      Job job = jobs.get(stage);
      if (job != null) {
        replaced.add(job.getMetadata().getUid());
        // foreground: the Job is gone only once its pods are, so the new Job of the same name never finds the old
        // attempt's pods under its job-name label (they would explain a later failure with an old message)
        client.batch().v1().jobs().inNamespace(namespace).withName(job.getMetadata().getName())
            .withPropagationPolicy(DeletionPropagation.FOREGROUND).delete();
      }
      stages.set(stage, null);
      clearedReports.put(ProgressProtocol.key(stage), null); // a JSON merge patch's null removes the key
    }
    previous.setStages(stages);
    clearProgress(client, namespace, Names.progressConfigMap(cx), clearedReports);
    if (start.compareTo(Stage.EVALUATE) <= 0) {
      previous.setEvaluation(null);
    }
    if (previous.getOutput() != null) {
      previous.getOutput().setPublishedUri(null);
      previous.getOutput().setRevision(null);
    }
    retry.setFrom(start.title());
    retry.setTime(now);
    retry.setCount(retry.getCount() == null ? 1 : retry.getCount() + 1);
    retry.setReplacedJobs(replaced.stream().distinct().toList());
    Integer checkpoint = previous.getTraining() == null ? null : previous.getTraining().getLastCheckpointStep();
    String resume = start.compareTo(Stage.TRAIN) <= 0 && checkpoint != null
        ? "; training resumes from its checkpoint at step " + checkpoint : "";
    return new Outcome(from, Optional.of(new Event("Normal", "Retrying", ANNOTATION + "=" + token + ": "
        + start.title() + " and the later stages run again" + resume)));
  }

  /** Finished: every stage succeeded, or the quality gate stopped the run after Evaluate. */
  private static boolean finished(Assessment a, ContextExtensionStatus previous) {
    return a.complete() || (a.state(Stage.EVALUATE) == StageState.Succeeded && a.active().isEmpty()
        && previous.isTrue("Failed"));
  }

  private static void clearProgress(KubernetesClient client, String namespace, String name, Map<String, Object> keys) {
    try {
      String patch = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of("data", keys));
      if (client.configMaps().inNamespace(namespace).withName(name).get() != null) {
        client.configMaps().inNamespace(namespace).withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      }
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The retry status with only the replaced Jobs that still exist (null when there never was a retry). */
  static RetryStatus pruned(RetryStatus retry, Set<Job> cached) {
    if (retry == null) {
      return null;
    }
    Set<String> present = cached.stream().map(j -> j.getMetadata().getUid()).collect(Collectors.toSet());
    retry.setReplacedJobs(retry.getReplacedJobs() == null ? List.of()
        : retry.getReplacedJobs().stream().filter(present::contains).toList());
    return retry;
  }
}
