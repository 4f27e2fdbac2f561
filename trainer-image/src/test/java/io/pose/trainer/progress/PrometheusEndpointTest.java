package io.pose.trainer.progress;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.trainer.train.StepResult;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** The metrics endpoint serves the Prometheus text format over real HTTP. */
class PrometheusEndpointTest {

  @Test
  void servesTrainingAndJvmMetrics() throws IOException, InterruptedException {
    try (PrometheusEndpoint endpoint = new PrometheusEndpoint(0, "tiny")) {
      endpoint.step(new StepResult(1, 4.25, 1.5, 1e-4, 1000, 0.5, 250, 64), 20, null);
      endpoint.step(new StepResult(2, 3.75, 1.25, 2e-4, 3000, 1.5, 255, 64), 20, 2);
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + endpoint.port()
          + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
      assertThat(r.body().lines()).contains(
          "pose_train_step{run=\"tiny\"} 2.0",
          "pose_train_total_steps{run=\"tiny\"} 20.0",
          "pose_train_loss{run=\"tiny\"} 3.75",
          "pose_train_learning_rate{run=\"tiny\"} 2.0E-4",
          "pose_train_grad_norm{run=\"tiny\"} 1.25",
          "pose_train_tokens_per_second{run=\"tiny\"} 2000.0",
          "pose_train_max_position{run=\"tiny\"} 255.0",
          "pose_train_last_checkpoint_step{run=\"tiny\"} 2.0",
          "pose_train_tokens_total{run=\"tiny\"} 4000.0",
          "pose_train_step_duration_seconds_count{run=\"tiny\"} 2");
      assertThat(r.body()).contains("# HELP pose_train_loss Mean next-token loss of the last step")
          .contains("jvm_memory_used_bytes");
      HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + endpoint.port()
          + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
    }
  }
}
