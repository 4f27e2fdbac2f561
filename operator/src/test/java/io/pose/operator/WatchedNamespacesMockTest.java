package io.pose.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.api.v1alpha1.ContextExtension;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** pose.operator.watch-namespaces (env POSE_OPERATOR_WATCH_NAMESPACES, set by the chart) limits what is reconciled. */
@QuarkusTest
@WithKubernetesTestServer
@TestProfile(WatchedNamespacesMockTest.OnlyTeamA.class)
class WatchedNamespacesMockTest {

  /** Watches team-a and team-c only. */
  public static class OnlyTeamA implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("pose.operator.watch-namespaces", "team-a,team-c");
    }
  }

  @Inject
  KubernetesClient client;

  @Test
  void onlyResourcesInWatchedNamespacesAreReconciled() {
    for (String ns : new String[] {"team-a", "team-b"}) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
        client.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(secret).endMetadata()
            .withStringData(Map.of("token", "x")).build()).create();
      }
      ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
      cx.getMetadata().setNamespace(ns);
      client.resource(cx).create();
    }
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() ->
        client.batch().v1().jobs().inNamespace("team-a").withName("mistral-7b-32k-fetch").get() != null);
    await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(client.resources(ContextExtension.class).inNamespace("team-b").withName("mistral-7b-32k").get().getStatus())
        .as("team-b is not watched").isNull();
    assertThat(client.batch().v1().jobs().inNamespace("team-b").list().getItems()).isEmpty();
  }
}
