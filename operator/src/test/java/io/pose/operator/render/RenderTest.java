package io.pose.operator.render;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.operator.OperatorHarness;
import io.pose.operator.helm.ChartRenderer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenderTest {

  record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Render.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void rendersTheEmbeddedExampleWithEveryStage() {
    Run run = run();
    assertThat(run.code()).isZero();
    List<HasMetadata> objects = ChartRenderer.parse(run.out());
    assertThat(objects).extracting(o -> o.getKind() + "/" + o.getMetadata().getName()).containsExactly(
        "ConfigMap/mistral-7b-32k-config", "ConfigMap/mistral-7b-32k-progress", "ServiceAccount/mistral-7b-32k-stage",
        "Role/mistral-7b-32k-stage", "RoleBinding/mistral-7b-32k-stage", "Service/mistral-7b-32k-rdzv",
        "PersistentVolumeClaim/mistral-7b-32k-workspace", "Job/mistral-7b-32k-fetch", "Job/mistral-7b-32k-train",
        "Job/mistral-7b-32k-eval", "Job/mistral-7b-32k-publish");
    assertThat(run.out()).contains("# Stage Train: created when Fetch succeeds");
    Job train = (Job) objects.get(8);
    assertThat(train.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getLimits())
        .containsKey("nvidia.com/gpu");
  }

  @Test
  void rendersAFileAndSkipsUnconfiguredStages() {
    Path file = OperatorHarness.repoRoot().resolve("examples/tiny-local.yaml");
    Run run = run(file.toString(), "--trainer-image", "registry.local/pose-trainer:dev");
    assertThat(run.code()).isZero();
    assertThat(run.out()).contains("image: \"registry.local/pose-trainer:dev\"");
  }

  @Test
  void invalidSpecsExitWithTwoAndNameTheField(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(file, Files.readString(OperatorHarness.repoRoot().resolve("examples/llama2-7b-16k.yaml")));
    Run run = run(file.toString(), "--original-context-length", "16384");
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err()).contains("spec.targetContextLength: 16384 must be greater than the model's original context length 16384");
    Files.writeString(file, Files.readString(file).replace("chunks: 2", "chunk: 2"));
    run = run(file.toString());
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err()).contains("spec.pose.chunk: is not a known field");
  }

  @Test
  void missingFilesAndBadArgumentsAreReported() {
    // the same exit code as every pose command gives a spec it cannot read: 2, invalid configuration
    assertThat(run("/no/such.yaml").code()).isEqualTo(2);
    assertThat(run("/no/such.yaml").err()).contains("/no/such.yaml: no such file");
    assertThat(run("a.yaml", "b.yaml").code()).isEqualTo(2);
    assertThat(run("--original-context-length").err()).contains("expected a value");
  }
}
