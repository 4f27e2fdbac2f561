package io.pose.trainer.progress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.train.StepResult;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Reports to the operator through the progress ConfigMap (docs/trainer-contract.md, "Progress protocol"): a JSON
 * merge patch of the key train.json, which the stage's Role allows (get, update, patch on that one ConfigMap) and
 * which never conflicts with the other stages' keys. Writes at the first step, at every checkpoint, at the last
 * step, and otherwise at most once per interval, so a fast run does not flood the API server. Progress is advisory:
 * a failed write is logged and training goes on; the final report, which carries the model's URI, is retried.
 */
public final class ConfigMapProgress implements ProgressListener {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int FINAL_ATTEMPTS = 5;

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final long intervalNanos;
  private final PrintWriter log;
  private final LongSupplier clock;
  private final Duration retryBase;
  private final ConfigMap target;
  private final Throughput throughput = new Throughput();
  private final String key = ProgressProtocol.key(Stage.TRAIN);
  private long lastWrite = Long.MIN_VALUE;
  private TrainReport last;
  private int failures;

  public ConfigMapProgress(KubernetesClient client, String namespace, String name, Duration interval, PrintWriter log) {
    this(client, namespace, name, interval, log, System::nanoTime, Duration.ofMillis(500));
  }

  /**
   * @param clock nanoseconds, for the interval
   * @param retryBase the wait before the final report's first retry (doubling after each)
   */
  ConfigMapProgress(KubernetesClient client, String namespace, String name, Duration interval, PrintWriter log,
      LongSupplier clock, Duration retryBase) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.intervalNanos = interval.toNanos();
    this.log = log;
    this.clock = clock;
    this.retryBase = retryBase;
    this.target = new ConfigMapBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata().build();
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
      write(last, 1);
    }
  }

  @Override
  public void modelWritten(String modelUri, int step) {
    last = TrainReports.completed(last, modelUri, step);
    write(last, FINAL_ATTEMPTS);
  }

  /** @return whether the write went through */
  private boolean write(TrainReport report, int attempts) {
    String patch;
    try {
      patch = JSON.writeValueAsString(Map.of("data", Map.of(key, ProgressProtocol.write(report))));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    for (int attempt = 1; attempt <= attempts; attempt++) {
      try {
        // through resource(...) the client sends the PATCH alone, without first reading the ConfigMap
        client.configMaps().inNamespace(namespace).resource(target).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
        return true;
      } catch (KubernetesClientException e) {
        failures++;
        if (failures == 1 || failures % 20 == 0 || (attempts > 1 && attempt == attempts)) {
          log.printf("warning: cannot write %s into ConfigMap %s/%s (%s%s); training goes on%n", key, namespace, name,
              e.getCode() == 0 ? "" : "HTTP " + e.getCode() + ": ", e.getMessage());
        }
        if (attempt < attempts) {
          sleep(retryBase.multipliedBy(1L << (attempt - 1)));
        }
      }
    }
    return false;
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    client.close();
  }
}
