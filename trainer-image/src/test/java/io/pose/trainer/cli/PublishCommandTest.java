package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.SpecIO;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.PublishReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.eval.EvalReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pose publish} to file:// and pvc:// targets: what arrives (model files byte for byte, the model card with
 * front matter carried from the base model's card, the training configuration, the evaluation results), the
 * quality gate, and every kind of bad input with its exit code; nothing half-written at the target.
 */
@EnableKubernetesMockClient(crud = true)
public class PublishCommandTest {

  KubernetesClient client;

  static final Path MODELS = Path.of("src/test/resources/tiny-models");
  static final ObjectMapper JSON = new ObjectMapper();

  public static String spec(String publish) {
    return """
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata:
          name: tiny-256
        spec:
          model:
            source: hf://tiny/llama
          targetContextLength: 256
          ropeScaling:
            type: yarn
          pose:
            trainingWindow: 32
          training:
            data:
              source: s3://bucket/corpus
          evaluation:
            passkey: {lengths: [128, 256], trials: 4}
          publish:
        %s
        """.formatted(publish.indent(4).stripTrailing());
  }

  /** A workspace after Train and Evaluate: base model (with a card), extended model, results. */
  public static Path workspace(Path root, double accuracyAtTarget) throws IOException {
    Path base = Files.createDirectories(root.resolve("base-model"));
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      Files.copy(MODELS.resolve("llama").resolve(f), base.resolve(f));
    }
    Files.writeString(base.resolve("README.md"), """
        ---
        license: apache-2.0
        language: [en]
        tags: [tiny, test]
        ---
        # A tiny model
        """);
    Path extended = Files.createDirectories(root.resolve("extended-model"));
    try (Stream<Path> files = Files.list(MODELS.resolve("exported-llama-yarn"))) {
      for (Path f : files.toList()) {
        Files.copy(f, extended.resolve(f.getFileName()));
      }
    }
    EvaluationResults r = new EvaluationResults();
    r.getPasskey().add(new EvaluationResults.PasskeyResult(128, 4, 1.0, 0.25));
    r.getPasskey().add(new EvaluationResults.PasskeyResult(256, 4, accuracyAtTarget, 0.0));
    r.setPasskeyAccuracyAtTarget(accuracyAtTarget);
    r.setCompleted(true);
    EvalReport.write(root.resolve("eval"), r, "tiny-256");
    return root;
  }

  record Outcome(int code, String out, String err) {}

  static Outcome publish(Path config, Path workspace, String... extra) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> args = new ArrayList<>(List.of("publish", "--config", config.toString(), "--workspace",
        workspace.toString()));
    args.addAll(List.of(extra));
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
    return new Outcome(code, out.toString(), err.toString());
  }

  static List<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  @Test
  void publishesTheModelCardConfigurationAndResultsToADirectory(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"), 1.0);
    Path dest = tmp.resolve("out/tiny-256");
    Path config = TrainCommandTest.config(tmp, spec("target: file://" + dest + "\nrequirePasskeyAccuracy: 0.9"));
    Outcome o = publish(config, ws);
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("published file://" + dest + " (revision sha256:");

    assertThat(files(dest)).containsExactly("README.md", "config.json", "eval/passkey.png", "eval/results.json",
        "eval/results.md", "generation_config.json", "model.safetensors", "pose-config.yaml", "tokenizer.json");
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      assertThat(Files.readAllBytes(dest.resolve(f))).as(f)
          .isEqualTo(Files.readAllBytes(ws.resolve("extended-model").resolve(f)));
    }
    assertThat(Files.readAllBytes(dest.resolve("eval/results.json")))
        .isEqualTo(Files.readAllBytes(ws.resolve("eval/results.json")));

    String card = Files.readString(dest.resolve("README.md"));
    assertThat(card).startsWith("---\n");
    JsonNode front = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper()
        .readTree(card.substring(4, card.indexOf("\n---", 4)));
    assertThat(front.get("license").asText()).isEqualTo("apache-2.0");
    assertThat(front.get("language").get(0).asText()).isEqualTo("en");
    assertThat(front.get("base_model").asText()).isEqualTo("tiny/llama");
    assertThat(front.get("library_name").asText()).isEqualTo("transformers");
    List<String> tags = new ArrayList<>();
    front.get("tags").forEach(t -> tags.add(t.asText()));
    assertThat(tags).contains("pose", "long-context", "yarn", "tiny", "test");
    assertThat(card).contains("from 64 to 256 tokens").contains("### Passkey retrieval").contains("| 256 | 4 | 100.0% |")
        .contains("![eval/passkey.png](eval/passkey.png)").contains("pose-config.yaml");

    ContextExtension published = SpecIO.read(dest.resolve("pose-config.yaml"));
    assertThat(published.getMetadata().getName()).isEqualTo("tiny-256");
    assertThat(SpecIO.fingerprint(published.getSpec())).isEqualTo(SpecIO.fingerprint(SpecIO.read(config).getSpec()));
    // the workspace keeps no assembled tree
    assertThat(ws.resolve(".publish-tree")).doesNotExist();

    // publishing again replaces the directory as a whole, with the same revision for the same content
    String revision = o.out().replaceAll("(?s).*revision (sha256:[0-9a-f]+).*", "$1");
    Files.writeString(dest.resolve("stale.txt"), "from an older publish");
    Outcome again = publish(config, ws);
    assertThat(again.code()).isZero();
    assertThat(again.out()).contains(revision);
    assertThat(dest.resolve("stale.txt")).doesNotExist();
  }

  @Test
  void theQualityGateStopsAPublishBelowTheRequiredAccuracy(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"), 0.5);
    Path dest = tmp.resolve("out");
    Outcome o = publish(TrainCommandTest.config(tmp, spec("target: file://" + dest + "\nrequirePasskeyAccuracy: 0.9")), ws);
    assertThat(o.code()).isEqualTo(ExitCode.QUALITY_GATE_FAILED.code());
    assertThat(o.err()).contains("passkey accuracy at 256 tokens is 0.5, below spec.publish.requirePasskeyAccuracy 0.9")
        .contains("nothing was published");
    assertThat(dest).doesNotExist();

    Files.delete(ws.resolve("eval/results.json"));
    Outcome missing = publish(TrainCommandTest.config(tmp, spec("target: file://" + dest + "\nrequirePasskeyAccuracy: 0.9")), ws);
    assertThat(missing.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(missing.err()).contains("results.json does not exist");
  }

  @Test
  void pvcTargetsLandInTheWorkspaceClaimOrAMountedOne(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"), 1.0);
    Outcome own = publish(TrainCommandTest.config(tmp, spec("target: pvc://tiny-ws/published/v1")), ws,
        "--workspace-uri", "pvc://tiny-ws");
    assertThat(own.code()).as(own.err()).isZero();
    assertThat(ws.resolve("published/v1/model.safetensors")).isRegularFile();

    Path pvcs = Files.createDirectories(tmp.resolve("pvcs/models"));
    Outcome other = publish(TrainCommandTest.config(tmp, spec("target: pvc://models/tiny")), ws, "--workspace-uri",
        "pvc://tiny-ws", "--pvc-dir", pvcs.getParent().toString());
    assertThat(other.code()).as(other.err()).isZero();
    assertThat(pvcs.resolve("tiny/README.md")).isRegularFile();

    for (String inside : List.of("pvc://tiny-ws/extended-model", "pvc://tiny-ws/checkpoints/x", "pvc://tiny-ws/.")) {
      Outcome o = publish(TrainCommandTest.config(tmp, spec("target: " + inside)), ws, "--workspace-uri",
          "pvc://tiny-ws");
      assertThat(o.code()).as(inside).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
      assertThat(o.err()).as(inside).containsAnyOf("which a stage keeps", "not the claim itself");
    }
    Outcome whole = publish(TrainCommandTest.config(tmp, spec("target: file://" + ws.getParent())), ws);
    assertThat(whole.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(whole.err()).contains("is the workspace or holds it");
    assertThat(ws.resolve("extended-model/model.safetensors")).isRegularFile();

    Outcome unmounted = publish(TrainCommandTest.config(tmp, spec("target: pvc://elsewhere/tiny")), ws,
        "--workspace-uri", "pvc://tiny-ws", "--pvc-dir", pvcs.getParent().toString());
    assertThat(unmounted.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(unmounted.err()).contains("spec.publish.target").contains("claim elsewhere is not mounted");
  }

  @Test
  void badInputsExitWithTheirCodes(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"), 1.0);
    Outcome scheme = publish(TrainCommandTest.config(tmp, spec("target: ftp://host/model")), ws);
    assertThat(scheme.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(scheme.err()).contains("spec.publish.target");

    Outcome secret = publish(TrainCommandTest.config(tmp, spec("target: file://" + tmp.resolve("x")
        + "\ncredentialsSecret: hf-write")), ws, "--secrets-dir", tmp.resolve("secrets").toString());
    assertThat(secret.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
    assertThat(secret.err()).contains("spec.publish.credentialsSecret: Secret \"hf-write\" is not mounted");

    Files.delete(ws.resolve("extended-model/model.safetensors"));
    Outcome weights = publish(TrainCommandTest.config(tmp, spec("target: file://" + tmp.resolve("y"))), ws);
    assertThat(weights.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(weights.err()).contains("extended-model");
    assertThat(tmp.resolve("y")).doesNotExist();
  }

  @Test
  void reportsThePublishedLocationInTheProgressConfigMap(@TempDir Path tmp) throws IOException {
    client.configMaps().inNamespace("test").resource(new ConfigMapBuilder().withNewMetadata()
        .withName("tiny-256-progress").endMetadata().build()).create();
    Path ws = workspace(tmp.resolve("ws"), 1.0);
    System.setProperty("kubernetes.master", client.getConfiguration().getMasterUrl());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.namespace", "test");
    Outcome o;
    try {
      o = publish(TrainCommandTest.config(tmp, spec("target: file://" + tmp.resolve("out"))), ws,
          "--progress-configmap", "tiny-256-progress");
    } finally {
      System.clearProperty("kubernetes.master");
      System.clearProperty("kubernetes.trust.certificates");
      System.clearProperty("kubernetes.namespace");
    }
    assertThat(o.code()).as(o.err()).isZero();
    Map<String, String> data = client.configMaps().inNamespace("test").withName("tiny-256-progress").get().getData();
    PublishReport report = ProgressProtocol.read(data, Stage.PUBLISH, PublishReport.class).orElseThrow();
    assertThat(report.getPublishedUri()).isEqualTo("file://" + tmp.resolve("out"));
    assertThat(report.getRevision()).startsWith("sha256:");
  }
}
