package io.pose.operator;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.Operator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pose.api.SpecIO;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.config.OperatorSettings;
import io.pose.operator.metrics.PoseMetrics;
import io.pose.operator.model.Labels;
import io.pose.operator.reconciler.ContextExtensionReconciler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Runs the real reconciler in a plain JOSDK Operator against a Kubernetes API (the Fabric8 mock server in
 * CRUD mode, or a real cluster), and plays the parts the mock server cannot: the Job controller (Job
 * statuses, failed pods) and the trainer (progress reports).
 */
public final class OperatorHarness implements AutoCloseable {

  public static final String NAMESPACE = "test";
  public static final OperatorSettings SETTINGS =
      new OperatorSettings("example.com/pose-trainer:test", Duration.ofSeconds(2), Duration.ofMillis(500));

  private final KubernetesClient client;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private Operator operator;
  private PoseMetrics metrics;

  public OperatorHarness(KubernetesClient client) {
    this.client = client;
  }

  public KubernetesClient client() {
    return client;
  }

  public SimpleMeterRegistry registry() {
    return registry;
  }

  /** Installs the committed CRD, as `helm install` would. */
  public OperatorHarness installCrd() {
    client.resource(Serialization.unmarshal(read(repoRoot().resolve("crds/contextextensions.pose.io-v1.yml")),
        CustomResourceDefinition.class)).createOr(existing -> existing.update());
    return this;
  }

  public OperatorHarness start() {
    metrics = new PoseMetrics(registry);
    operator = new Operator(o -> o.withKubernetesClient(client)
        .withCloseClientOnStop(false)
        .withSSABasedCreateUpdateMatchForDependentResources(false)
        .withUseSSAToPatchPrimaryResource(false));
    operator.register(new ContextExtensionReconciler(SETTINGS, metrics, Clock.systemUTC()));
    operator.start();
    return this;
  }

  public void stop() {
    if (operator != null) {
      operator.stop();
      operator = null;
    }
    if (metrics != null) {
      metrics.close();
    }
  }

  @Override
  public void close() {
    stop();
  }

  /** Deletes everything in the test namespace (mock servers live per test class; tests must not leak state). */
  public void wipe() {
    client.resources(ContextExtension.class).inNamespace(NAMESPACE).delete();
    client.batch().v1().jobs().inNamespace(NAMESPACE).delete();
    client.pods().inNamespace(NAMESPACE).delete();
    client.configMaps().inNamespace(NAMESPACE).delete();
    client.secrets().inNamespace(NAMESPACE).delete();
    client.serviceAccounts().inNamespace(NAMESPACE).delete();
    client.rbac().roles().inNamespace(NAMESPACE).delete();
    client.rbac().roleBindings().inNamespace(NAMESPACE).delete();
    client.services().inNamespace(NAMESPACE).delete();
    client.persistentVolumeClaims().inNamespace(NAMESPACE).delete();
    client.v1().events().inNamespace(NAMESPACE).delete();
  }

  // ---- the user ----

  public static ContextExtension example(String file) {
    return SpecIO.parse(read(repoRoot().resolve("examples").resolve(file)), file);
  }

  public ContextExtension apply(ContextExtension cx) {
    cx.getMetadata().setNamespace(NAMESPACE);
    cx.setStatus(null);
    return client.resource(cx).inNamespace(NAMESPACE).createOr(existing -> existing.update());
  }

  public void secret(String name) {
    client.secrets().inNamespace(NAMESPACE).resource(new SecretBuilder().withNewMetadata().withName(name).endMetadata()
        .withStringData(Map.of("token", "hf_xxx")).build()).create();
  }

  public ContextExtension get(String name) {
    return client.resources(ContextExtension.class).inNamespace(NAMESPACE).withName(name).get();
  }

  public ContextExtension edit(String name, java.util.function.Consumer<ContextExtension> change) {
    return client.resources(ContextExtension.class).inNamespace(NAMESPACE).withName(name).edit(cx -> {
      change.accept(cx);
      return cx;
    });
  }

  public ContextExtension awaitStatus(String name, Predicate<ContextExtension> condition) {
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> condition.test(get(name)));
    return get(name);
  }

  public static boolean condition(ContextExtension cx, String type, String status, String reason) {
    return cx.getStatus() != null && cx.getStatus().condition(type)
        .filter(c -> status.equals(c.getStatus()) && (reason == null || reason.equals(c.getReason()))).isPresent();
  }

  // ---- the Job controller ----

  public Job job(String cxName, Stage stage) {
    return client.batch().v1().jobs().inNamespace(NAMESPACE).withName(cxName + "-" + stage.command()).get();
  }

  public Job awaitJob(String cxName, Stage stage) {
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> job(cxName, stage) != null);
    return job(cxName, stage);
  }

  public List<Job> jobs() {
    return client.batch().v1().jobs().inNamespace(NAMESPACE).list().getItems();
  }

  public void jobRunning(String cxName, Stage stage) {
    setJobStatus(cxName, stage, new JobStatusBuilder().withStartTime(Instant.now().toString()).withActive(1).withReady(1)
        .build());
  }

  public void jobSucceeded(String cxName, Stage stage) {
    String now = Instant.now().toString();
    setJobStatus(cxName, stage, new JobStatusBuilder().withStartTime(now).withCompletionTime(now).withSucceeded(1)
        .withConditions(new JobConditionBuilder().withType("SuccessCriteriaMet").withStatus("True").build(),
            new JobConditionBuilder().withType("Complete").withStatus("True").build())
        .build());
  }

  /** A pod of the stage exits with this code and termination message, and the Job fails. */
  public void jobFailed(String cxName, Stage stage, int exitCode, String terminationMessage, String jobReason) {
    String jobName = cxName + "-" + stage.command();
    client.pods().inNamespace(NAMESPACE).resource(new PodBuilder()
        .withNewMetadata().withName(jobName + "-x1y2z").withLabels(Map.of(Labels.JOB_NAME, jobName)).endMetadata()
        .withNewSpec().addNewContainer().withName("trainer").withImage("t").endContainer().endSpec()
        .withNewStatus().withPhase("Failed").addNewContainerStatus().withName("trainer").withNewState().withNewTerminated()
          .withExitCode(exitCode).withMessage(terminationMessage).withReason("Error")
          .withFinishedAt(Instant.now().toString())
        .endTerminated().endState().endContainerStatus().endStatus()
        .build()).create();
    setJobStatus(cxName, stage, new JobStatusBuilder().withStartTime(Instant.now().toString()).withFailed(1)
        .withConditions(new JobConditionBuilder().withType("Failed").withStatus("True").withReason(jobReason)
            .withMessage("Job has reached the specified backoff limit").build())
        .build());
  }

  private void setJobStatus(String cxName, Stage stage, JobStatus status) {
    Job job = awaitJob(cxName, stage);
    job.setStatus(status);
    client.batch().v1().jobs().inNamespace(NAMESPACE).resource(job).updateStatus();
  }

  // ---- the trainer ----

  /** Writes a stage's progress document the way the trainer does (update of its own key). */
  public void report(String cxName, Stage stage, Object document) {
    String name = ProgressProtocol.configMapName(cxName);
    await().atMost(Duration.ofSeconds(30)).until(() -> client.configMaps().inNamespace(NAMESPACE).withName(name).get() != null);
    client.configMaps().inNamespace(NAMESPACE).withName(name).edit(cm -> {
      java.util.Map<String, String> data = cm.getData() == null ? new java.util.HashMap<>() : new java.util.HashMap<>(cm.getData());
      data.put(ProgressProtocol.key(stage), ProgressProtocol.write(document));
      cm.setData(data);
      return cm;
    });
  }

  public ConfigMap configMap(String name) {
    return client.configMaps().inNamespace(NAMESPACE).withName(name).get();
  }

  /** Everything the operator created for a resource, by label. */
  public List<HasMetadata> owned(ContextExtension cx) {
    return owned(client, NAMESPACE, cx.getMetadata().getName());
  }

  /** Everything the operator created for the resource of this name in this namespace, by label. */
  public static List<HasMetadata> owned(KubernetesClient client, String namespace, String name) {
    var selector = Map.of(Labels.CONTEXT_EXTENSION, name);
    List<HasMetadata> all = new java.util.ArrayList<>();
    all.addAll(client.configMaps().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.serviceAccounts().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.rbac().roles().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.rbac().roleBindings().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.services().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.persistentVolumeClaims().inNamespace(namespace).withLabels(selector).list().getItems());
    all.addAll(client.batch().v1().jobs().inNamespace(namespace).withLabels(selector).list().getItems());
    return all;
  }

  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("mvnw"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("repository root not found");
    }
    return p;
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
