package io.pose.operator.cluster;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The real control plane with the operator running as production runs it ({@link OperatorProcess}, the chart's
 * defaults: every namespace, a ClusterRole), one namespace per test class. The tests play the user (an admin
 * client), the nodes ({@link Kubelet}) and the trainer (progress reports written with the stage pod's own
 * ServiceAccount token, the JSON merge patch the trainer sends).
 */
abstract class ClusterTestBase {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration PATIENCE = Duration.ofSeconds(60);

  static ControlPlane plane;
  static OperatorProcess operator;
  static KubernetesClient admin;
  static String namespace;
  static Kubelet kubelet;

  @BeforeAll
  static void startOperator(org.junit.jupiter.api.TestInfo info) {
    plane = ControlPlane.shared();
    String simple = info.getTestClass().orElseThrow().getSimpleName();
    namespace = simple.replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase().replace("i-t", "it");
    plane.namespace(namespace);
    admin = plane.admin();
    kubelet = new Kubelet(admin, namespace);
    // the chart's defaults, but for the trainer image, a shorter resync and (through the chart's extraEnv) the
    // informers' watch restarts in the log
    operator = OperatorProcess.install(plane, Map.of("trainerImage.repository", "example.com/pose-trainer",
        "trainerImage.tag", "it", "resyncPeriod", "30s",
        "extraEnv[0].name", "QUARKUS_LOG_CATEGORY__IO_FABRIC8_KUBERNETES_CLIENT_INFORMERS__LEVEL",
        "extraEnv[0].value", "DEBUG"), simple).start();
  }

  @AfterAll
  static void stopOperator() {
    if (operator != null) {
      operator.stop();
    }
    if (admin != null) {
      admin.close();
    }
  }

  // ---- the user ----

  static ContextExtension apply(ContextExtension cx) {
    cx.getMetadata().setNamespace(namespace);
    cx.setStatus(null);
    return admin.resource(cx).inNamespace(namespace).create();
  }

  static ContextExtension example(String file, String name) {
    ContextExtension cx = OperatorHarness.example(file);
    cx.getMetadata().setName(name);
    return cx;
  }

  static void secrets(String... names) {
    for (String name : names) {
      if (admin.secrets().inNamespace(namespace).withName(name).get() == null) {
        admin.secrets().inNamespace(namespace).resource(new SecretBuilder().withNewMetadata().withName(name).endMetadata()
            .withStringData(Map.of("token", "hf_xxx", "AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b")).build())
            .create();
      }
    }
  }

  static ContextExtension get(String name) {
    return admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).get();
  }

  static ContextExtension awaitStatus(String name, Predicate<ContextExtension> condition) {
    try {
      await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
          .until(() -> condition.test(get(name)));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      ContextExtension cx = get(name);
      throw new AssertionError("status of " + name + " never matched; last: "
          + (cx == null ? "deleted" : io.fabric8.kubernetes.client.utils.Serialization.asYaml(cx.getStatus()))
          + "operator log: " + operator.log(), e);
    }
    return get(name);
  }

  static ContextExtension awaitPhase(String name, Phase phase) {
    return awaitStatus(name, c -> c.getStatus() != null && c.getStatus().getPhase() == phase);
  }

  static boolean condition(ContextExtension cx, String type, String status, String reason) {
    return OperatorHarness.condition(cx, type, status, reason);
  }

  // ---- the Job controller's output ----

  static String jobName(String cx, Stage stage) {
    return cx + "-" + stage.command();
  }

  static Job job(String cx, Stage stage) {
    return admin.batch().v1().jobs().inNamespace(namespace).withName(jobName(cx, stage)).get();
  }

  static Job awaitJob(String cx, Stage stage) {
    await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100)).until(() -> job(cx, stage) != null);
    return job(cx, stage);
  }

  static List<Job> jobs(String cx) {
    return admin.batch().v1().jobs().inNamespace(namespace).withLabel(io.pose.operator.model.Labels.CONTEXT_EXTENSION, cx)
        .list().getItems();
  }

  static List<Event> events(ContextExtension cx) {
    return admin.v1().events().inNamespace(namespace).list().getItems().stream()
        .filter(e -> cx.getMetadata().getUid().equals(e.getInvolvedObject().getUid())).toList();
  }

  // ---- the trainer ----

  /** Writes a stage's progress document as the trainer does: a JSON merge patch of its key, with the pod's token. */
  static void report(String cx, Stage stage, Object document) {
    String patch;
    try {
      patch = JSON.writeValueAsString(Map.of("data", Map.of(ProgressProtocol.key(stage), ProgressProtocol.write(document))));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    try (KubernetesClient pod = stagePod(cx)) {
      ConfigMap target = new ConfigMapBuilder().withNewMetadata().withNamespace(namespace)
          .withName(ProgressProtocol.configMapName(cx)).endMetadata().build();
      pod.configMaps().inNamespace(namespace).resource(target).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    }
  }

  /** A client holding what a stage pod holds: a token of the stage ServiceAccount. */
  static KubernetesClient stagePod(String cx) {
    String serviceAccount = cx + "-stage";
    await().atMost(PATIENCE).until(() -> admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount).get() != null);
    return plane.withToken(plane.token(namespace, serviceAccount));
  }

  static FetchReport fetched(int originalContextLength) {
    FetchReport fetched = new FetchReport();
    fetched.setOriginalContextLength(originalContextLength);
    fetched.setModelRevision("26bca36bde8333b5d7f72e9ed20ccda6a618af24");
    fetched.setArchitecture("MistralForCausalLM");
    return fetched;
  }

  /** Fetch runs, reports the model and succeeds; Train's pod runs. */
  static void untilTraining(String name) {
    awaitJob(name, Stage.FETCH);
    kubelet.run(jobName(name, Stage.FETCH));
    report(name, Stage.FETCH, fetched(8192));
    awaitStatus(name, c -> c.getStatus().getModel() != null);
    kubelet.succeed(jobName(name, Stage.FETCH));
    awaitJob(name, Stage.TRAIN);
    kubelet.run(jobName(name, Stage.TRAIN));
    awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training
        && condition(c, "Progressing", "True", "TrainRunning"));
  }

  // ---- kubectl's view ----

  /** The printer columns as `kubectl get` shows them: the API server's Table rendering of the resource. */
  static Map<String, String> printerColumns(String name) throws Exception {
    String url = plane.url() + "/apis/pose.io/v1alpha1/namespaces/" + namespace + "/contextextensions/" + name;
    HttpRequest request = admin.getHttpClient().newHttpRequestBuilder().url(new URL(url))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").build();
    HttpResponse<String> response = admin.getHttpClient().sendAsync(request, String.class).get();
    JsonNode table = JSON.readTree(response.body());
    List<String> columns = new ArrayList<>();
    table.get("columnDefinitions").forEach(c -> columns.add(c.get("name").asText()));
    Map<String, String> row = new LinkedHashMap<>();
    JsonNode cells = table.get("rows").get(0).get("cells");
    for (int i = 0; i < columns.size(); i++) {
      row.put(columns.get(i), cells.get(i).isNull() ? "" : cells.get(i).asText());
    }
    return row;
  }
}
