package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.time.Duration;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * RBAC through the real authorizer. The operator installed by the chart for one namespace (watchNamespaces: a
 * Role there, not a ClusterRole) runs a resource there and leaves other namespaces alone; a stage pod's token may
 * read and update its own progress ConfigMap and nothing else.
 */
class RbacIT {

  static final String WATCHED = "rbac-it";
  static final String OTHER = "rbac-other";
  static ControlPlane plane;
  static OperatorProcess operator;
  static KubernetesClient admin;

  @BeforeAll
  static void installForOneNamespace() {
    plane = ControlPlane.shared();
    plane.namespace(WATCHED);
    plane.namespace(OTHER);
    admin = plane.admin();
    operator = OperatorProcess.install(plane, "pose-rbac", Map.of("watchNamespaces[0]", WATCHED,
        "trainerImage.repository", "example.com/pose-trainer", "trainerImage.tag", "it"), "RbacIT").start();
    for (String ns : new String[] {WATCHED, OTHER}) {
      for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
        admin.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(secret).endMetadata()
            .withStringData(Map.of("token", "t")).build()).create();
      }
    }
  }

  @AfterAll
  static void stop() {
    if (operator != null) {
      operator.stop();
    }
    if (admin != null) {
      admin.close();
    }
  }

  private static ContextExtension apply(String namespace, String name) {
    ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
    cx.getMetadata().setName(name);
    cx.getMetadata().setNamespace(namespace);
    return admin.resource(cx).inNamespace(namespace).create();
  }

  @Test
  void aNamespacedInstallRunsItsNamespaceAndNoOther() {
    apply(WATCHED, "watched");
    apply(OTHER, "unwatched");
    await().atMost(Duration.ofSeconds(60)).until(() -> {
      ContextExtension cx = admin.resources(ContextExtension.class).inNamespace(WATCHED).withName("watched").get();
      return cx.getStatus() != null && cx.getStatus().getPhase() == Phase.Fetching;
    });
    assertThat(admin.batch().v1().jobs().inNamespace(WATCHED).withName("watched-fetch").get()).isNotNull();
    assertThat(admin.rbac().clusterRoleBindings().list().getItems())
        .as("a namespaced install binds no ClusterRole but the CRD reader")
        .filteredOn(b -> b.getSubjects().stream().anyMatch(s -> s.getName().startsWith("pose-rbac")))
        .isNotEmpty().allMatch(b -> b.getRoleRef().getName().contains("crd"));
    await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(admin.resources(ContextExtension.class).inNamespace(OTHER).withName("unwatched").get().getStatus()).isNull();
    assertThat(admin.batch().v1().jobs().inNamespace(OTHER).list().getItems()).isEmpty();
  }

  @Test
  void aStagePodsTokenReachesItsOwnProgressConfigMapAndNothingElse() {
    apply(WATCHED, "alpha");
    apply(WATCHED, "beta");
    for (String name : new String[] {"alpha-stage", "beta-stage"}) {
      await().atMost(Duration.ofSeconds(60)).until(() -> admin.rbac().roleBindings().inNamespace(WATCHED).withName(name).get() != null
          && admin.configMaps().inNamespace(WATCHED).withName(name.replace("-stage", "-progress")).get() != null);
    }
    try (KubernetesClient pod = plane.withToken(plane.token(WATCHED, "alpha-stage"))) {
      String own = ProgressProtocol.configMapName("alpha");
      String patch = "{\"data\":{\"" + ProgressProtocol.key(Stage.FETCH) + "\":\"{}\"}}";
      // allowed: get, patch and update its own progress ConfigMap
      assertThat(pod.configMaps().inNamespace(WATCHED).withName(own).get()).isNotNull();
      pod.configMaps().inNamespace(WATCHED).withName(own).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      pod.configMaps().inNamespace(WATCHED).withName(own).edit(cm -> cm);

      // refused: everything else
      String other = ProgressProtocol.configMapName("beta");
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).withName(other).get());
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).withName(other).patch(PatchContext.of(PatchType.JSON_MERGE), patch));
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).withName("alpha-config").get());
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).list());
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).resource(new ConfigMapBuilder().withNewMetadata()
          .withName("alpha-new").endMetadata().build()).create());
      forbidden(() -> pod.configMaps().inNamespace(WATCHED).withName(own).delete());
      forbidden(() -> pod.configMaps().inNamespace(OTHER).withName(own).get());
      forbidden(() -> pod.secrets().inNamespace(WATCHED).withName("hf-token").get());
      forbidden(() -> pod.resources(ContextExtension.class).inNamespace(WATCHED).withName("alpha").get());
      forbidden(() -> pod.resources(ContextExtension.class).inNamespace(WATCHED).list());
      forbidden(() -> pod.batch().v1().jobs().inNamespace(WATCHED).list());
      forbidden(() -> pod.pods().inNamespace(WATCHED).resource(new PodBuilder().withNewMetadata().withName("x").endMetadata()
          .withNewSpec().addNewContainer().withName("x").withImage("x").endContainer().endSpec().build()).create());
      forbidden(() -> pod.rbac().roles().inNamespace(WATCHED).withName("alpha-stage").edit(r -> r));
    }
  }

  private static void forbidden(ThrowingCallable call) {
    assertThatThrownBy(call).isInstanceOfSatisfying(KubernetesClientException.class,
        e -> assertThat(e.getCode()).as(e.getMessage()).isEqualTo(403));
  }
}
