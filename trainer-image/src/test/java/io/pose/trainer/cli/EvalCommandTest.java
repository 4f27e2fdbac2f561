package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.Stage;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pose eval} end to end: the tiny Llama (original context 64) PoSE-trained to 256 tokens by {@code pose
 * train}, then measured (passkey at 128 and 256 tokens, perplexity at 128 and 256, a multiple-choice task) beside
 * the base model, with results in the workspace and in the progress ConfigMap of a mock API server; and every
 * kind of bad input, with the contract's exit code and a message naming the cause.
 */
@EnableKubernetesMockClient(crud = true)
class EvalCommandTest {

  KubernetesClient client;

  static final ObjectMapper JSON = new ObjectMapper();
  static final String[] SENTENCES = {"The grass is green.", "The sky is blue.", "The pass key is 4711.",
      "Remember it.", "Here we go.", "The sun is yellow.", "There and back again."};

  @TempDir
  static Path shared;

  /** A workspace after Fetch and Train: base model, data, extended model. */
  static Path trained;

  static String spec(String evaluation) {
    return """
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata:
          name: tiny
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
              format: jsonl
            steps: 40
            globalBatchSize: 2
            microBatchSize: 2
            learningRate: 1.0e-2
            warmupSteps: 1
            precision: fp32
            checkpointEverySteps: 40
          resources:
            gpusPerNode: 0
          evaluation:
        %s
        """.formatted(evaluation.indent(4).stripTrailing());
  }

  static final String FULL = """
      passkey: {lengths: [128, 256], trials: 3, seed: 7}
      perplexity:
        data: {source: s3://bucket/long.jsonl, format: jsonl}
        lengths: [128, 256]
        stride: 64
        maxDocuments: 3
      benchmarks:
        - {name: colors, data: {source: s3://bucket/colors.jsonl}, shots: 1}
      compareWithBase: true
      """;

  static String text(Random r, int sentences) {
    StringBuilder b = new StringBuilder();
    for (int s = 0; s < sentences; s++) {
      b.append(s == 0 ? "" : " ").append(SENTENCES[r.nextInt(SENTENCES.length)]);
    }
    return b.toString();
  }

  @BeforeAll
  static void trainOnce() throws IOException {
    Random r = new Random(9);
    List<String> corpus = new ArrayList<>();
    for (int d = 0; d < 12; d++) {
      corpus.add(JSON.writeValueAsString(Map.of("text", text(r, 20 + r.nextInt(20)))));
    }
    trained = shared.resolve("trained");
    Path base = Files.createDirectories(trained.resolve("base-model"));
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      Files.copy(TrainCommandTest.MODEL.resolve(f), base.resolve(f));
    }
    Files.createDirectories(trained.resolve("data/training"));
    Files.write(trained.resolve("data/training/part-0.jsonl"), corpus);
    Outcome o = pose("train", TrainCommandTest.config(shared, spec(FULL)), trained, "--progress", "none");
    assertThat(o.code()).as(o.err()).isZero();
  }

  /** A copy of the trained workspace with the evaluation data fetched. */
  static Path workspace(Path root) throws IOException {
    copyTree(trained.resolve("base-model"), root.resolve("base-model"));
    copyTree(trained.resolve("extended-model"), root.resolve("extended-model"));
    Random r = new Random(4);
    List<String> long_ = new ArrayList<>();
    long_.add(JSON.writeValueAsString(Map.of("text", "Too short.")));
    for (int d = 0; d < 4; d++) {
      long_.add(JSON.writeValueAsString(Map.of("text", text(r, 150))));
    }
    Files.createDirectories(root.resolve("data/eval/perplexity"));
    Files.write(root.resolve("data/eval/perplexity/long.jsonl"), long_);
    Files.createDirectories(root.resolve("data/eval/benchmarks/colors"));
    Files.write(root.resolve("data/eval/benchmarks/colors/colors.jsonl"), List.of(
        "{\"context\": \"The grass is\", \"choices\": [\"green.\", \"blue.\", \"yellow.\"], \"gold\": 0}",
        "{\"context\": \"The sky is\", \"choices\": [\"green.\", \"blue.\", \"yellow.\"], \"gold\": 1}",
        "{\"context\": \"The sun is\", \"choices\": [\"green.\", \"blue.\", \"yellow.\"], \"gold\": 2}",
        "{\"context\": \"There and back\", \"choices\": [\"again.\", \"we go.\"], \"gold\": 0}"));
    return root;
  }

  static void copyTree(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (var files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
  }

  record Outcome(int code, String out, String err) {}

  static Outcome pose(String stage, Path config, Path workspace, String... extra) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> args = new ArrayList<>(List.of(stage, "--config", config.toString(), "--workspace",
        workspace.toString()));
    args.addAll(List.of(extra));
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void measuresTheExtendedAndTheBaseModelAndReportsEverywhere(@TempDir Path tmp) throws IOException {
    client.configMaps().inNamespace("test").resource(new ConfigMapBuilder().withNewMetadata().withName("tiny-progress")
        .endMetadata().build()).create();
    Path ws = workspace(tmp.resolve("ws"));
    Path config = TrainCommandTest.config(tmp, spec(FULL));
    Outcome o;
    String masterUrl = client.getConfiguration().getMasterUrl();
    System.setProperty("kubernetes.master", masterUrl);
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.namespace", "test");
    try {
      o = pose("eval", config, ws, "--block", "40", "--progress-configmap", "tiny-progress");
    } finally {
      System.clearProperty("kubernetes.master");
      System.clearProperty("kubernetes.trust.certificates");
      System.clearProperty("kubernetes.namespace");
    }
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("passkey 128: ").contains("passkey 256: ").contains("base model")
        .contains("perplexity 128: ").contains("perplexity 256: ").contains("colors (1-shot, 4 examples)");

    EvaluationResults r = JSON.readValue(ws.resolve("eval/results.json").toFile(), EvaluationResults.class);
    assertThat(r.getSchemaVersion()).isEqualTo(ProgressProtocol.SCHEMA_VERSION);
    assertThat(r.getCompleted()).isTrue();
    assertThat(r.getPasskey()).extracting(EvaluationResults.PasskeyResult::getLength).containsExactly(128, 256);
    for (EvaluationResults.PasskeyResult p : r.getPasskey()) {
      assertThat(p.getTrials()).isEqualTo(3);
      assertThat(p.getAccuracy()).isBetween(0.0, 1.0);
      assertThat(p.getBaseAccuracy()).isBetween(0.0, 1.0);
    }
    assertThat(r.getPasskeyAccuracyAtTarget()).isEqualTo(r.getPasskey().get(1).getAccuracy());
    assertThat(r.getPerplexity()).extracting(EvaluationResults.PerplexityResult::getLength).containsExactly(128, 256);
    for (EvaluationResults.PerplexityResult p : r.getPerplexity()) {
      assertThat(p.getDocuments()).isEqualTo(3); // the short document is left out, then the first three
      assertThat(p.getPerplexity()).isFinite().isGreaterThan(1.0);
      assertThat(p.getBasePerplexity()).isFinite().isGreaterThan(1.0);
      // trained on text like these documents, the extended model predicts them better than the random base
      assertThat(p.getPerplexity()).isLessThan(p.getBasePerplexity());
    }
    assertThat(r.getBenchmarks()).hasSize(1);
    assertThat(r.getBenchmarks().get(0).getName()).isEqualTo("colors");
    assertThat(r.getBenchmarks().get(0).getExamples()).isEqualTo(4);
    assertThat(r.getBenchmarks().get(0).getAccuracy()).isIn(0.0, 0.25, 0.5, 0.75, 1.0);
    assertThat(r.getBenchmarks().get(0).getBaseAccuracyNorm()).isNotNull();

    String markdown = Files.readString(ws.resolve("eval/results.md"));
    assertThat(markdown).contains("### Passkey retrieval").contains("| 256 | 3 |").contains("### Perplexity")
        .contains("| colors | 1 | 4 |");
    for (String plot : List.of("passkey.png", "perplexity.png")) {
      BufferedImage image = ImageIO.read(ws.resolve("eval").resolve(plot).toFile());
      assertThat(image).as(plot).isNotNull();
      assertThat(image.getWidth()).isEqualTo(800);
      assertThat(image.getHeight()).isEqualTo(500);
    }

    // the operator reads the same document from the progress ConfigMap
    Map<String, String> data = client.configMaps().inNamespace("test").withName("tiny-progress").get().getData();
    EvaluationResults reported = ProgressProtocol.read(data, Stage.EVALUATE, EvaluationResults.class).orElseThrow();
    assertThat(reported.getCompleted()).isTrue();
    assertThat((JsonNode) JSON.valueToTree(reported)).isEqualTo((JsonNode) JSON.valueToTree(r));

    // the same spec measures the same numbers again (seeded keys, deterministic inference)
    Path again = workspace(tmp.resolve("again"));
    assertThat(pose("eval", config, again, "--block", "7").code()).isZero();
    EvaluationResults r2 = JSON.readValue(again.resolve("eval/results.json").toFile(), EvaluationResults.class);
    r2.setUpdatedAt(r.getUpdatedAt());
    JsonNode a = JSON.valueToTree(r);
    JsonNode b = JSON.valueToTree(r2);
    assertThat(b.get("passkey")).isEqualTo(a.get("passkey"));
    assertThat(b.get("benchmarks")).isEqualTo(a.get("benchmarks"));
    for (int i = 0; i < 2; i++) {
      assertThat(b.get("perplexity").get(i).get("perplexity").asDouble())
          .isCloseTo(a.get("perplexity").get(i).get("perplexity").asDouble(), org.assertj.core.data.Offset.offset(1e-3));
    }
  }

  @Test
  void withoutAnExtendedModelExitsWithThree(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    deleteTree(ws.resolve("extended-model"));
    Outcome o = pose("eval", TrainCommandTest.config(tmp, spec(FULL)), ws);
    assertThat(o.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(o.err()).contains("extended-model/config.json: no such file").contains("the Train stage writes");
  }

  @Test
  void evaluationGpusAskedForButAbsentExitWithThreeInsteadOfRunningOnTheCpu(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    String gpus = spec(FULL).replace("gpusPerNode: 0", "gpusPerNode: 1");
    Outcome o = pose("eval", TrainCommandTest.config(tmp, gpus), ws);
    assertThat(o.code()).as(o.err()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(o.err()).contains("spec.evaluation.gpus asks for 1 GPU per node").contains("never falls back to the CPU");
  }

  @Test
  void missingOrUnusableEvaluationDataExitsWithThreeAndNamesTheField(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    deleteTree(ws.resolve("data/eval/perplexity"));
    Outcome o = pose("eval", TrainCommandTest.config(tmp, spec(FULL)), ws);
    assertThat(o.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(o.err()).contains("spec.evaluation.perplexity.data").contains("no such file or directory");
    assertThat(ws.resolve("eval")).doesNotExist();

    Path short_ = workspace(tmp.resolve("short"));
    Outcome tooShort = pose("eval", TrainCommandTest.config(tmp, spec("""
        perplexity:
          data: {source: s3://bucket/long.jsonl, minTokens: 100000}
          lengths: [128]
        """)), short_);
    assertThat(tooShort.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(tooShort.err()).contains("none of the 5 documents has at least 100000 tokens");

    Path broken = workspace(tmp.resolve("broken"));
    Files.write(broken.resolve("data/eval/benchmarks/colors/colors.jsonl"),
        List.of("{\"context\": \"The grass is\", \"choices\": [\"green.\"], \"gold\": 0}", "{\"context\": \"x\"}"));
    Outcome bad = pose("eval", TrainCommandTest.config(tmp, spec(FULL)), broken);
    assertThat(bad.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(bad.err()).contains("spec.evaluation.benchmarks[0] (colors)").contains("colors.jsonl:2")
        .contains("no field \"choices\"");
  }

  @Test
  void tokenDataForPerplexityIsAnInvalidConfiguration(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    Outcome o = pose("eval", TrainCommandTest.config(tmp, spec("""
        perplexity:
          data: {source: s3://bucket/long.tokens, format: tokens}
        """)), ws);
    assertThat(o.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(o.err()).contains("spec.evaluation.perplexity.data.format");
  }

  static void deleteTree(Path dir) throws IOException {
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
