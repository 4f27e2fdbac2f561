package io.pose.trainer.progress;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.train.StepResult;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Reports to the operator through the progress ConfigMap (docs/trainer-contract.md, "Progress protocol"): a JSON
 * merge patch of the key train.json, which the stage's Role allows (get, update, patch on that one ConfigMap) and
 * which never conflicts with the other stages' keys. Writes at the first step, at every checkpoint, at the last
 * step, and otherwise at most once per interval, so a fast run does not flood the API server. Progress is advisory:
 * a failed write is logged and training goes on; the final report, which carries the model's URI, is retried.
 */
public final class ConfigMapProgress implements ProgressListener {

  private static final int FINAL_ATTEMPTS = 5;

  private final ProgressConfigMap configMap;
  private final long intervalNanos;
  private final LongSupplier clock;
  private final Throughput throughput = new Throughput();
  private long lastWrite = Long.MIN_VALUE;
  private TrainReport last;

  public ConfigMapProgress(KubernetesClient client, String namespace, String name, Duration interval, PrintWriter log) {
    this(client, namespace, name, interval, log, System::nanoTime, Duration.ofMillis(500));
  }

  /**
   * @param clock nanoseconds, for the interval
   * @param retryBase the wait before the final report's first retry (doubling after each)
   */
  ConfigMapProgress(KubernetesClient client, String namespace, String name, Duration interval, PrintWriter log,
      LongSupplier clock, Duration retryBase) {
    this(new ProgressConfigMap(client, namespace, name, Stage.TRAIN, log, retryBase), interval, clock);
  }

  /** Reports into the train.json key of an opened progress ConfigMap (which this closes). */
  public ConfigMapProgress(ProgressConfigMap configMap, Duration interval) {
    this(configMap, interval, System::nanoTime);
  }

  private ConfigMapProgress(ProgressConfigMap configMap, Duration interval, LongSupplier clock) {
    this.configMap = configMap;
    this.intervalNanos = interval.toNanos();
    this.clock = clock;
  }

  @Override
  public void step(StepResult r, int totalSteps, Integer lastCheckpointStep) {
    throughput.add(r);
    last = TrainReports.of(r, totalSteps, lastCheckpointStep, throughput);
    long now = clock.getAsLong();
    boolean due = lastWrite == Long.MIN_VALUE || now - lastWrite >= intervalNanos || r.step() >= totalSteps
        || (lastCheckpointStep != null && lastCheckpointStep == r.step());
    if (due) {
      lastWrite = now;
      configMap.write(last, 1);
    }
  }

  @Override
  public void modelWritten(String modelUri, int step) {
    last = TrainReports.completed(last, modelUri, step);
    configMap.write(last, FINAL_ATTEMPTS);
  }

  @Override
  public void close() {
    configMap.close();
  }
}
