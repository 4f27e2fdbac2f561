package io.pose.operator.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Phase;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * Per-resource gauges (training step, loss, tokens/s, ETA, restarts, passkey accuracy at the target,
 * phase) tagged with namespace and name, next to JOSDK's own reconciliation metrics. Gauges of deleted
 * resources are removed.
 */
public class PoseMetrics {

  private final MeterRegistry registry;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private java.util.concurrent.ScheduledExecutorService pruner;

  public PoseMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Latest values of one resource; gauges read them. */
  private static final class Entry {
    volatile ContextExtensionStatus status = new ContextExtensionStatus();
    final List<Meter> meters = new ArrayList<>();
  }

  /** Publishes a resource's status. */
  public void record(ContextExtension cx) {
    String key = key(cx.getMetadata().getNamespace(), cx.getMetadata().getName());
    Entry entry = entries.computeIfAbsent(key, k -> register(cx));
    if (cx.getStatus() != null) {
      entry.status = cx.getStatus();
    }
  }

  /**
   * Counts a reconciliation (pose_reconciliations_total): divided by the resources, what each one costs
   * (docs/benchmarks.md). JOSDK's own reconciliation counters are missing from the packaged operator's /q/metrics
   * (QOSDK 7.7.3; present under the Quarkus test profile), so this one does not depend on them.
   */
  public void reconciliation() {
    Counter.builder("pose.reconciliations").description("Reconciliations the operator ran")
        .register(registry).increment();
  }

  /** Counts a stage reaching a state. */
  public void stageTransition(String stage, String state) {
    Counter.builder("pose.stage.transitions").description("Stage state changes observed by the operator")
        .tags("stage", stage, "state", state).register(registry).increment();
  }

  /**
   * Drops, every period, the gauges of resources that no longer exist (the operator sets no finalizer, so
   * it is not called when a resource is deleted).
   *
   * @param live the namespace/name keys of the resources that exist
   */
  public synchronized void startPruning(java.util.function.Supplier<Set<String>> live, java.time.Duration period) {
    if (pruner != null) {
      return;
    }
    pruner = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pose-metrics-pruner");
      t.setDaemon(true);
      return t;
    });
    pruner.scheduleWithFixedDelay(() -> {
      try {
        retainOnly(live.get());
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(PoseMetrics.class).debug("metrics pruning skipped: {}", e.getMessage());
      }
    }, period.toMillis(), period.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Stops the pruning thread. */
  public synchronized void close() {
    if (pruner != null) {
      pruner.shutdownNow();
      pruner = null;
    }
  }

  /** Drops the gauges of resources that no longer exist. */
  public void retainOnly(Set<String> namespacedNames) {
    for (String key : List.copyOf(entries.keySet())) {
      if (!namespacedNames.contains(key)) {
        Entry removed = entries.remove(key);
        if (removed != null) {
          removed.meters.forEach(registry::remove);
        }
      }
    }
  }

  public static String key(String namespace, String name) {
    return namespace + "/" + name;
  }

  private Entry register(ContextExtension cx) {
    Entry e = new Entry();
    Tags tags = Tags.of("namespace", cx.getMetadata().getNamespace(), "name", cx.getMetadata().getName());
    gauge(e, "pose.training.step", "Last optimizer step reported by the trainer", tags,
        s -> s.getTraining() == null || s.getTraining().getStep() == null ? Double.NaN : s.getTraining().getStep());
    gauge(e, "pose.training.total.steps", "Optimizer steps of the run", tags,
        s -> s.getTraining() == null || s.getTraining().getTotalSteps() == null ? Double.NaN : s.getTraining().getTotalSteps());
    gauge(e, "pose.training.loss", "Last training loss reported by the trainer", tags,
        s -> s.getTraining() == null || s.getTraining().getLoss() == null ? Double.NaN : s.getTraining().getLoss());
    gauge(e, "pose.training.tokens.per.second", "Training throughput", tags,
        s -> s.getTraining() == null || s.getTraining().getTokensPerSecond() == null ? Double.NaN
            : s.getTraining().getTokensPerSecond());
    gauge(e, "pose.training.eta.seconds", "Estimated seconds until training completes", tags,
        s -> s.getTraining() == null || s.getTraining().getEtaSeconds() == null ? Double.NaN : s.getTraining().getEtaSeconds());
    gauge(e, "pose.training.restarts", "Failed training pods that were retried", tags,
        s -> s.getTraining() == null || s.getTraining().getRestarts() == null ? 0 : s.getTraining().getRestarts());
    gauge(e, "pose.passkey.accuracy.at.target", "Passkey retrieval accuracy at the target context length", tags,
        s -> s.getEvaluation() == null || s.getEvaluation().getPasskeyAccuracyAtTarget() == null ? Double.NaN
            : s.getEvaluation().getPasskeyAccuracyAtTarget());
    for (Phase phase : Phase.values()) {
      gauge(e, "pose.phase", "1 for the resource's current phase, 0 for the others", tags.and("phase", phase.name()),
          s -> s.getPhase() == phase ? 1 : 0);
    }
    return e;
  }

  private void gauge(Entry e, String name, String help, Tags tags, ToDoubleFunction<ContextExtensionStatus> value) {
    e.meters.add(Gauge.builder(name, e, x -> value.applyAsDouble(x.status)).description(help).tags(tags)
        .strongReference(true).register(registry));
  }
}
