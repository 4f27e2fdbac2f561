package io.pose.operator;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;

import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.api.v1alpha1.ContextExtension;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The assembled operator application (Quarkus, QOSDK, configuration, metrics and health endpoints) against
 * the Fabric8 mock API server: the same binary the Helm chart deploys.
 */
@QuarkusTest
@WithKubernetesTestServer
class OperatorApplicationMockTest {

  @Inject
  KubernetesClient client;

  @Test
  void reconcilesAResourceAndExposesHealthAndMetrics() {
    String ns = "apps";
    for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
      client.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(secret).endMetadata()
          .withStringData(Map.of("token", "x")).build()).create();
    }
    ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
    cx.getMetadata().setNamespace(ns);
    client.resource(cx).create();

    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
      ContextExtension current = client.resources(ContextExtension.class).inNamespace(ns).withName("mistral-7b-32k").get();
      return current.getStatus() != null && current.getStatus().isTrue("Valid")
          && client.batch().v1().jobs().inNamespace(ns).withName("mistral-7b-32k-fetch").get() != null;
    });
    String image = client.batch().v1().jobs().inNamespace(ns).withName("mistral-7b-32k-fetch").get().getSpec().getTemplate()
        .getSpec().getContainers().get(0).getImage();
    assertThat(image).as("pose.operator.trainer-image from application.properties").isEqualTo("example.com/pose-trainer:app-test");

    given().when().get("/q/health/ready").then().statusCode(200).body(containsString("UP"));
    given().when().get("/q/health/live").then().statusCode(200);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> given().when().get("/q/metrics").then().statusCode(200)
        .body(containsString("pose_phase{name=\"mistral-7b-32k\",namespace=\"apps\",phase=\"Fetching\"} 1.0"))
        .body(containsString("reconciliations_started_total")));
  }
}
