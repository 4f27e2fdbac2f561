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
import io.pose.api.v1alpha1.Stage;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;

/**
 * One stage's key of the progress ConfigMap (docs/trainer-contract.md, "Progress protocol"): each write is a JSON
 * merge patch of that key alone, which the stage's Role allows (patch on that one ConfigMap) and which never
 * conflicts with the other stages' keys. Progress is advisory: a failed write is logged (the first, then every
 * 20th) and the stage goes on; a write that matters (the final one) can be retried with backoff.
 */
public final class ProgressConfigMap implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final String key;
  private final PrintWriter log;
  private final Duration retryBase;
  private final ConfigMap target;
  private int failures;

  /**
   * @param retryBase the wait before a retried write's first retry (doubling after each)
   */
  public ProgressConfigMap(KubernetesClient client, String namespace, String name, Stage stage, PrintWriter log,
      Duration retryBase) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.key = ProgressProtocol.key(stage);
    this.log = log;
    this.retryBase = retryBase;
    this.target = new ConfigMapBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata().build();
  }

  public String key() {
    return key;
  }

  /**
   * Writes the stage's document.
   *
   * @return whether the write went through within the attempts
   */
  public boolean write(Object report, int attempts) {
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
          log.printf("warning: cannot write %s into ConfigMap %s/%s (%s%s); the stage goes on%n", key, namespace, name,
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
