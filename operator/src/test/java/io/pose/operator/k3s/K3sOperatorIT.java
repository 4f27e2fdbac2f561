package io.pose.operator.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * A real API server (K3s): installs the committed CRD (so its schema and CEL rules are checked by
 * Kubernetes itself), runs the operator, applies examples/mistral-32k.yaml and checks what it creates.
 * Needs a container runtime; skipped where there is none.
 */
@Testcontainers(disabledWithoutDocker = true)
class K3sOperatorIT {

  @Container
  static final K3sContainer K3S = new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.4-k3s1"));

  static KubernetesClient client;
  static OperatorHarness k8s;

  @BeforeAll
  static void startOperator() {
    client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(K3S.getKubeConfigYaml())).build();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(OperatorHarness.NAMESPACE)
        .endMetadata().build()).create();
    k8s = new OperatorHarness(client).installCrd();
    client.apiextensions().v1().customResourceDefinitions().withName(ContextExtension.CRD_NAME)
        .waitUntilCondition(crd -> crd.getStatus() != null && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus())), 60, java.util.concurrent.TimeUnit.SECONDS);
    k8s.start();
  }

  @AfterAll
  static void stopOperator() {
    if (k8s != null) {
      k8s.close();
    }
    if (client != null) {
      client.close();
    }
  }

  @Test
  void mistralExampleCreatesItsFetchStageAndSupportingObjects() {
    for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
      k8s.secret(secret);
    }
    ContextExtension cx = k8s.apply(OperatorHarness.example("mistral-32k.yaml"));
    Job fetch = k8s.awaitJob(cx.getMetadata().getName(), Stage.FETCH);
    assertThat(fetch.getSpec().getPodFailurePolicy().getRules()).hasSize(2);
    ContextExtension status = k8s.awaitStatus(cx.getMetadata().getName(),
        c -> c.getStatus() != null && c.getStatus().isTrue("Valid"));
    assertThat(status.getStatus().getStages().getFetch().getJobName()).isEqualTo("mistral-7b-32k-fetch");
    assertThat(k8s.owned(status)).extracting(o -> o.getKind() + "/" + o.getMetadata().getName()).contains(
        "ConfigMap/mistral-7b-32k-config", "ConfigMap/mistral-7b-32k-progress", "Role/mistral-7b-32k-stage",
        "RoleBinding/mistral-7b-32k-stage", "ServiceAccount/mistral-7b-32k-stage", "Service/mistral-7b-32k-rdzv",
        "PersistentVolumeClaim/mistral-7b-32k-workspace");
    await().atMost(Duration.ofSeconds(30)).until(() -> client.batch().v1().jobs().inNamespace(OperatorHarness.NAMESPACE)
        .withName("mistral-7b-32k-fetch").get().getMetadata().getOwnerReferences().get(0).getController());
  }

  @Test
  void theApiServerEnforcesTheCelRules() {
    ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
    cx.getMetadata().setName("too-short");
    cx.getSpec().setTargetContextLength(4096);
    cx.getSpec().getEvaluation().getPasskey().setLengths(java.util.List.of(4096));
    cx.getSpec().getPose().setTrainingWindow(2048);
    assertThatThrownBy(() -> k8s.apply(cx)).isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("must be greater than spec.model.originalContextLength");
  }

  @Test
  void immutableFieldsCannotChangeOnARealApiServer() {
    ContextExtension cx = OperatorHarness.example("tiny-local.yaml");
    k8s.apply(cx);
    assertThatThrownBy(() -> k8s.edit("tiny-local", c -> c.getSpec().setTargetContextLength(2048)))
        .isInstanceOf(KubernetesClientException.class).hasMessageContaining("is immutable once created");
    k8s.edit("tiny-local", c -> c.getSpec().setSuspend(true)); // suspend may change
  }
}
