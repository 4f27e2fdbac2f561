package io.pose.trainer.progress;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.train.StepResult;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The Train stage's reports in the progress ConfigMap, against the Fabric8 mock API server (CRUD mode). */
@EnableKubernetesMockClient(crud = true)
class ConfigMapProgressTest {

  KubernetesClient client;

  static StepResult step(int n) {
    return new StepResult(n, 5.0 - n * 0.1, 1.5, 2e-5, 4096, 2.0, 255, 64);
  }

  TrainReport current() {
    Map<String, String> data = client.configMaps().inNamespace("ml").withName("tiny-progress").get().getData();
    return ProgressProtocol.read(data, Stage.TRAIN, TrainReport.class).orElseThrow();
  }

  @Test
  void writesOwnKeyAtTheFirstStepCheckpointsTheEndAndOncePerInterval() {
    client.configMaps().inNamespace("ml").resource(new ConfigMapBuilder().withNewMetadata().withName("tiny-progress")
        .endMetadata().withData(Map.of("fetch.json", "{\"schemaVersion\":1,\"phase\":\"Done\"}")).build()).create();
    AtomicLong now = new AtomicLong();
    StringWriter log = new StringWriter();
    ConfigMapProgress p = new ConfigMapProgress(client, "ml", "tiny-progress", Duration.ofSeconds(10),
        new PrintWriter(log, true), now::get, Duration.ofMillis(1));

    p.step(step(1), 30, null);
    assertThat(current().getStep()).isEqualTo(1);
    now.addAndGet(Duration.ofSeconds(4).toNanos());
    p.step(step(2), 30, null);
    assertThat(current().getStep()).as("within the interval: not written").isEqualTo(1);
    now.addAndGet(Duration.ofSeconds(4).toNanos());
    p.step(step(3), 30, 3);
    assertThat(current().getStep()).as("a checkpoint is always written").isEqualTo(3);
    assertThat(current().getLastCheckpointStep()).isEqualTo(3);
    now.addAndGet(Duration.ofSeconds(11).toNanos());
    p.step(step(4), 30, 3);
    TrainReport four = current();
    assertThat(four.getStep()).as("the interval passed").isEqualTo(4);
    assertThat(four.getTotalSteps()).isEqualTo(30);
    assertThat(four.getLoss()).isEqualTo(4.6);
    assertThat(four.getLearningRate()).isEqualTo(2e-5);
    assertThat(four.getTokensPerSecond()).isEqualTo(2048.0);
    assertThat(four.getEtaSeconds()).isEqualTo(52);
    assertThat(four.getSchemaVersion()).isEqualTo(1);

    p.modelWritten("pvc://tiny-workspace/extended-model", 30);
    TrainReport done = current();
    assertThat(done.getModelUri()).isEqualTo("pvc://tiny-workspace/extended-model");
    assertThat(done.getStep()).isEqualTo(30);
    assertThat(done.getEtaSeconds()).isZero();
    assertThat(client.configMaps().inNamespace("ml").withName("tiny-progress").get().getData())
        .as("other stages' keys are left alone").containsEntry("fetch.json", "{\"schemaVersion\":1,\"phase\":\"Done\"}");
    assertThat(log.toString()).isEmpty();
  }

  @Test
  void aMissingConfigMapIsLoggedAndTrainingGoesOn() {
    StringWriter log = new StringWriter();
    ConfigMapProgress p = new ConfigMapProgress(client, "ml", "absent-progress", Duration.ZERO,
        new PrintWriter(log, true), System::nanoTime, Duration.ofMillis(1));
    p.step(step(1), 10, null);
    p.step(step(2), 10, null);
    assertThat(log.toString()).as("logged once, not at every step")
        .containsOnlyOnce("warning: cannot write train.json into ConfigMap ml/absent-progress");
    p.modelWritten("pvc://w/extended-model", 10);
    assertThat(log.toString()).contains("HTTP 404").contains("the stage goes on");
  }
}
