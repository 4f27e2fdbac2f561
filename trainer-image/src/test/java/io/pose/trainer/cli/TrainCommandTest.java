package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.contract.TrainerContract.ExitCode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.Stage;
import java.util.Map;
import io.pose.trainer.io.SafetensorsFile;
import io.pose.trainer.io.SafetensorsWriter;
import io.pose.trainer.io.TensorData;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pose train} end to end on the tiny Llama (original context 64) extended to 256 tokens: JSONL text is
 * tokenized with the model's tokenizer, PoSE-trained with checkpoints, stopped, resumed and exported; every kind
 * of bad input exits with the contract's code and a message naming the cause.
 */
@EnableKubernetesMockClient(crud = true)
class TrainCommandTest {

  KubernetesClient client;

  static final Path MODEL = Path.of("src/test/resources/tiny-models/llama");
  static final ObjectMapper JSON = new ObjectMapper();
  static final String[] SENTENCES = {"The grass is green.", "The sky is blue.", "The pass key is 4711.",
      "Remember it.", "Here we go."};

  @TempDir
  static Path shared;

  static Path corpus;

  @BeforeAll
  static void corpus() throws IOException {
    // 24 documents, each a few dozen sentences: long enough for the 32-token window
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int d = 0; d < 24; d++) {
      StringBuilder text = new StringBuilder();
      int n = 10 + r.nextInt(30);
      for (int s = 0; s < n; s++) {
        text.append(s == 0 ? "" : " ").append(SENTENCES[(d + s) % SENTENCES.length]);
      }
      lines.add(JSON.writeValueAsString(java.util.Map.of("text", text.toString(), "id", d)));
    }
    corpus = shared.resolve("corpus.jsonl");
    Files.write(corpus, lines);
  }

  static String spec(String extraPose, long seed) {
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
        %s
          training:
            data:
              source: s3://bucket/corpus
              format: jsonl
            steps: 6
            globalBatchSize: 4
            microBatchSize: 2
            learningRate: 1.0e-2
            warmupSteps: 1
            precision: fp32
            checkpointEverySteps: 2
            keepCheckpoints: 2
            seed: %d
          resources:
            gpusPerNode: 0
        """.formatted(extraPose, seed);
  }

  /** A workspace as the Fetch stage leaves it: the base model and the data. */
  static Path workspace(Path root) throws IOException {
    Path base = Files.createDirectories(root.resolve("base-model"));
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      Files.copy(MODEL.resolve(f), base.resolve(f));
    }
    Path data = Files.createDirectories(root.resolve("data/training"));
    Files.copy(corpus, data.resolve("part-00000.jsonl"));
    return root;
  }

  record Outcome(int code, String out, String err) {}

  static Outcome pose(Path config, Path workspace, String... extra) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> args = new ArrayList<>(List.of("train", "--config", config.toString(), "--workspace",
        workspace.toString(), "--progress", "lines", "--log-interval", "0"));
    args.addAll(List.of(extra));
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
    return new Outcome(code, out.toString(), err.toString());
  }

  static Path config(Path dir, String text) throws IOException {
    Path file = dir.resolve("spec-" + Math.abs(text.hashCode()) + ".yaml");
    Files.writeString(file, text);
    return file;
  }

  @Test
  void aStopOnRequestBetweenCheckpointsWritesOneAndResumesThere(@TempDir Path tmp) throws IOException {
    Path config = config(tmp, spec("", 42));
    Path ws = workspace(tmp.resolve("ws"));
    Outcome first = pose(config, ws, "--stop-after-steps", "3");
    assertThat(first.code()).as(first.err()).isZero();
    assertThat(names(ws.resolve("checkpoints"))).containsExactly("step-00000002", "step-00000003");
    Outcome second = pose(config, ws);
    assertThat(second.code()).as(second.err()).isZero();
    assertThat(second.out()).contains("(step 3, 12 samples read;").contains("step 4/6").doesNotContain("step 3/6");
  }

  @Test
  void aResumedRunLogsEveryStepOnce(@TempDir Path tmp) throws IOException {
    Path config = config(tmp, spec("", 42));
    Path ws = workspace(tmp.resolve("ws"));
    assertThat(pose(config, ws, "--stop-after-steps", "3").code()).isZero();
    // as if killed after step 3 before its checkpoint: the run resumes from step 2 and does step 3 again
    deleteTree(ws.resolve("checkpoints/step-00000003"));
    Files.writeString(ws.resolve("logs/train.jsonl"), "{\"step\": 4, \"loss\": 1.", StandardOpenOption.APPEND);
    Outcome second = pose(config, ws);
    assertThat(second.code()).as(second.err()).isZero();
    assertThat(second.out()).contains("(step 2, ");
    List<Integer> steps = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(ws.resolve("logs/train.jsonl"))) {
      steps.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(line).path("step").asInt());
    }
    assertThat(steps).containsExactly(1, 2, 3, 4, 5, 6);
  }

  static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void trainsStopsResumesAndExportsTheSameModelAsAnUninterruptedRun(@TempDir Path tmp) throws IOException {
    Path config = config(tmp, spec("", 7));

    Path straight = workspace(tmp.resolve("straight"));
    Outcome full = pose(config, straight);
    assertThat(full.code()).as(full.err()).isZero();
    assertThat(full.out()).contains("sampling: pose, window 32, 2 chunks").contains("step 6/6")
        .contains("wrote the extended model");

    Path ws = workspace(tmp.resolve("interrupted"));
    Outcome first = pose(config, ws, "--stop-after-steps", "4");
    assertThat(first.code()).as(first.err()).isZero();
    assertThat(first.out()).contains("tokenized 24 documents").contains("step 4/6").doesNotContain("step 5/6")
        .contains("stopped after step 4 of 6");
    assertThat(names(ws.resolve("checkpoints"))).containsExactly("step-00000002", "step-00000004");
    assertThat(ws.resolve("extended-model")).doesNotExist();
    assertThat(ws.resolve("data/training.tokens")).isRegularFile();

    Outcome second = pose(config, ws);
    assertThat(second.code()).as(second.err()).isZero();
    assertThat(second.out()).contains("resuming from").contains("(step 4, 16 samples read;")
        .doesNotContain("tokenized").contains("step 5/6").contains("step 6/6").doesNotContain("step 1/6");
    assertThat(names(ws.resolve("checkpoints"))).containsExactly("step-00000004", "step-00000006");

    // the resumed run ends bit for bit where the uninterrupted one did
    assertThat(Files.readAllBytes(ws.resolve("extended-model/model.safetensors")))
        .isEqualTo(Files.readAllBytes(straight.resolve("extended-model/model.safetensors")));
    assertThat(names(ws.resolve("extended-model"))).containsExactly("config.json", "generation_config.json",
        "model.safetensors", "tokenizer.json");
    JsonNode extended = JSON.readTree(ws.resolve("extended-model/config.json").toFile());
    assertThat(extended.path("max_position_embeddings").asInt()).isEqualTo(256);
    assertThat(extended.path("rope_parameters").path("rope_type").asText()).isEqualTo("yarn");
    assertThat(extended.path("rope_parameters").path("factor").asDouble()).isEqualTo(4.0);

    // one JSON line per step over both runs, and the latest report in the progress protocol's schema
    List<String> lines = Files.readAllLines(ws.resolve("logs/train.jsonl"));
    assertThat(lines).hasSize(6);
    List<Integer> steps = new ArrayList<>();
    for (String line : lines) {
      JsonNode l = JSON.readTree(line);
      steps.add(l.get("step").asInt());
      assertThat(l.get("maxSampleLength").asInt()).isLessThanOrEqualTo(32);
      assertThat(l.get("maxPosition").asInt()).isLessThan(256);
      assertThat(l.get("loss").asDouble()).isFinite().isPositive();
    }
    assertThat(steps).containsExactly(1, 2, 3, 4, 5, 6);
    JsonNode report = JSON.readTree(ws.resolve("logs/train-progress.json").toFile());
    assertThat(report.get("schemaVersion").asInt()).isEqualTo(1);
    assertThat(report.get("step").asInt()).isEqualTo(6);
    assertThat(report.get("totalSteps").asInt()).isEqualTo(6);
    assertThat(report.get("lastCheckpointStep").asInt()).isEqualTo(6);
    assertThat(report.get("tokensPerSecond").asDouble()).isPositive();

    Outcome again = pose(config, ws);
    assertThat(again.code()).isZero();
    assertThat(again.out()).contains("nothing to do");
  }

  @Test
  void anInvalidSpecExitsWithTwoAndNamesTheField(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    Outcome o = pose(config(tmp, spec("    chunks: 0", 7)), ws);
    assertThat(o.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(o.err()).contains("spec.pose.chunks: 0").contains("(exit 2: InvalidConfiguration)");

    Outcome missing = pose(tmp.resolve("nope.yaml"), ws);
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("nope.yaml: no such file");

    Outcome malformed = pose(config(tmp, spec("", 7).replace("steps: 6", "stepz: 6")), ws);
    assertThat(malformed.code()).isEqualTo(2);
    assertThat(malformed.err()).contains("stepz");

    // the window must fit the model's original context (64, from its config.json)
    Outcome window = pose(config(tmp, spec("", 7).replace("trainingWindow: 32", "trainingWindow: 128")), ws);
    assertThat(window.code()).as(window.err()).isEqualTo(2);
    assertThat(window.err()).contains("spec.pose.trainingWindow").contains("64");

    Outcome usage = pose(config(tmp, spec("", 7)), ws, "--stop-after-steps", "many");
    assertThat(usage.code()).isEqualTo(2);
  }

  @Test
  void missingOrCorruptInputsExitWithThree(@TempDir Path tmp) throws IOException {
    Path config = config(tmp, spec("", 7));

    Path noModel = workspace(tmp.resolve("no-model"));
    Files.delete(noModel.resolve("base-model/config.json"));
    Outcome o = pose(config, noModel);
    assertThat(o.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(o.err()).contains("base-model/config.json: no such file").contains("Fetch stage");

    Path corrupt = workspace(tmp.resolve("corrupt"));
    Path weights = corrupt.resolve("base-model/model.safetensors");
    byte[] bytes = Files.readAllBytes(weights);
    Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 100));
    o = pose(config, corrupt);
    assertThat(o.code()).as(o.err()).isEqualTo(3);
    assertThat(o.err()).contains("model.safetensors");

    Path noData = workspace(tmp.resolve("no-data"));
    Files.delete(noData.resolve("data/training/part-00000.jsonl"));
    Files.delete(noData.resolve("data/training"));
    o = pose(config, noData);
    assertThat(o.code()).isEqualTo(3);
    assertThat(o.err()).contains("data/training: no such file or directory");

    Path shortDocs = workspace(tmp.resolve("short"));
    Files.writeString(shortDocs.resolve("data/training/part-00000.jsonl"), "{\"text\": \"Here we go.\"}\n");
    o = pose(config, shortDocs);
    assertThat(o.code()).isEqualTo(3);
    assertThat(o.err()).contains("none of the 1 documents has at least 32 tokens");

    Path badLine = workspace(tmp.resolve("bad-line"));
    Files.writeString(badLine.resolve("data/training/part-00000.jsonl"), "{\"text\": \"ok\"}\n{not json\n");
    o = pose(config, badLine);
    assertThat(o.code()).isEqualTo(3);
    assertThat(o.err()).contains("part-00000.jsonl:2");
  }

  @Test
  void fullLengthFineTuningPlansItsMemoryForTargetLengthSamples(@TempDir Path tmp) throws IOException {
    // a memory plan at the training window would let a full-length run pass the check and run out of memory
    Path ws = workspace(tmp.resolve("ws"));
    Outcome o = pose(config(tmp, spec("    method: full", 7).replace("steps: 6", "steps: 1")), ws);
    assertThat(o.code()).as(o.out() + o.err()).isZero();
    assertThat(o.out()).contains("sampling: full, samples of up to 256 tokens, seed ")
        .contains("micro batch 2 x 256 tokens")
        .doesNotContain("micro batch 2 x 32 tokens");
  }

  @Test
  void checkpointsOfAnotherRunAreNotResumed(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    assertThat(pose(config(tmp, spec("", 7)), ws, "--stop-after-steps", "2").code()).isZero();
    Outcome o = pose(config(tmp, spec("", 8)), ws);
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.err()).contains("step-00000002 was written by another run").contains("seed=7").contains("seed=8");
  }

  @Test
  void aDivergingRunStopsWithTheStepAndKeepsItsCheckpoints(@TempDir Path tmp) throws IOException {
    Path ws = workspace(tmp.resolve("ws"));
    // a base model with one NaN weight: the very first step's gradients are not finite
    Path weights = ws.resolve("base-model/model.safetensors");
    List<TensorData> tensors = new ArrayList<>();
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      for (var e : f.tensors().entrySet()) {
        float[] values = f.floats(e.getKey());
        if (e.getKey().equals("model.layers.1.mlp.up_proj.weight")) {
          values[5] = Float.NaN;
        }
        tensors.add(TensorData.f32(e.getKey(), e.getValue().shape(), values));
      }
    }
    SafetensorsWriter.write(weights, tensors, Map.of("format", "pt"));
    Outcome o = pose(config(tmp, spec("", 7)), ws);
    assertThat(o.code()).as(o.out() + o.err()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(o.err()).contains("training diverged at step 1: loss NaN").contains("before any update")
        .contains("NaN or infinite values");
    assertThat(ws.resolve("checkpoints")).as("nothing written from NaN weights").doesNotExist();
  }

  @Test
  void helpListsTheExitCodes() {
    StringWriter out = new StringWriter();
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), "train", "--help");
    assertThat(code).isZero();
    assertThat(out.toString()).contains("--config").contains("--workspace").contains("Exit codes:")
        .contains("3   missing or unreadable input");
  }

  @Test
  void reportsIntoTheProgressConfigMapAndServesMetrics(@TempDir Path tmp) throws IOException {
    client.configMaps().inNamespace("ml").resource(new ConfigMapBuilder().withNewMetadata().withName("tiny-progress")
        .endMetadata().build()).create();
    // what a pod's in-cluster configuration would give the client, pointed at the mock API server
    Properties saved = (Properties) System.getProperties().clone();
    System.setProperty("kubernetes.master", client.getConfiguration().getMasterUrl());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.disable.hostname.verification", "true");
    System.setProperty("kubernetes.auth.tryKubeConfig", "false");
    System.setProperty("kubernetes.auth.tryServiceAccount", "false");
    Outcome o;
    try {
      o = pose(config(tmp, spec("", 7)), workspace(tmp.resolve("ws")), "--progress-configmap", "tiny-progress",
          "--namespace", "ml", "--workspace-uri", "pvc://tiny-workspace", "--metrics-port", "0");
    } finally {
      System.setProperties(saved);
    }
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("progress: ConfigMap ml/tiny-progress, key train.json")
        .containsPattern("metrics: http://0\\.0\\.0\\.0:\\d+/metrics");
    Map<String, String> data = client.configMaps().inNamespace("ml").withName("tiny-progress").get().getData();
    TrainReport report = ProgressProtocol.read(data, Stage.TRAIN, TrainReport.class).orElseThrow();
    assertThat(report.getStep()).isEqualTo(6);
    assertThat(report.getLastCheckpointStep()).isEqualTo(6);
    assertThat(report.getModelUri()).isEqualTo("pvc://tiny-workspace/extended-model");
    JsonNode local = JSON.readTree(tmp.resolve("ws/logs/train-progress.json").toFile());
    assertThat(local.get("modelUri").asText()).isEqualTo("pvc://tiny-workspace/extended-model");
  }
}
