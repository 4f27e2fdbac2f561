package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.Stage;
import io.pose.trainer.fetch.FetchManifest;
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
 * {@code pose fetch} from file:// and pvc:// sources: the model, training and evaluation data land in the workspace
 * verified and with their manifests; a second fetch downloads nothing, a changed source fetches again; a model the
 * pipeline cannot use fails with exit 3 naming the file; and then the whole pipeline runs on what was fetched:
 * train, eval, publish.
 */
@EnableKubernetesMockClient(crud = true)
class FetchCommandTest {

  KubernetesClient client;

  static final Path MODEL = Path.of("src/test/resources/tiny-models/llama");
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  /** Sources as a user keeps them: a model directory, a corpus file, evaluation files. */
  Path sources() throws IOException {
    return sources(tmp);
  }

  static Path sources(Path tmp) throws IOException {
    Path src = tmp.resolve("sources");
    Path model = Files.createDirectories(src.resolve("llama"));
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      Files.copy(MODEL.resolve(f), model.resolve(f));
    }
    Files.writeString(model.resolve("README.md"), "---\nlicense: apache-2.0\n---\n# tiny\n");
    Files.write(model.resolve("pytorch_model.bin"), new byte[] {1, 2, 3}); // a pickle: never fetched
    Files.createDirectories(model.resolve("original"));
    Files.write(model.resolve("original/consolidated.pth"), new byte[] {4}); // another format: not fetched
    List<String> corpus = new ArrayList<>();
    for (int d = 0; d < 8; d++) {
      corpus.add(JSON.writeValueAsString(Map.of("text", ("The grass is green. The sky is blue. The pass key is "
          + "12345. ").repeat(8 + d))));
    }
    Files.write(src.resolve("corpus.jsonl"), corpus);
    Path ppl = Files.createDirectories(src.resolve("long"));
    Files.write(ppl.resolve("part-0.jsonl"), corpus);
    Files.writeString(ppl.resolve("README.md"), "# long documents\n"); // a dataset card: not a document
    Files.writeString(ppl.resolve("dataset_info.json"), "{\n  \"pretty\": true\n}\n");
    Files.write(src.resolve("colors.jsonl"), List.of(
        "{\"context\": \"The grass is\", \"choices\": [\"green.\", \"blue.\"], \"gold\": 0}",
        "{\"context\": \"The sky is\", \"choices\": [\"green.\", \"blue.\"], \"gold\": 1}"));
    return src;
  }

  static String spec(Path src, String modelSource) {
    return """
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata:
          name: tiny
        spec:
          model:
            source: %s
          targetContextLength: 256
          ropeScaling:
            type: yarn
          pose:
            trainingWindow: 32
          training:
            data:
              source: file://%s/corpus.jsonl
            steps: 4
            globalBatchSize: 2
            microBatchSize: 2
            learningRate: 1.0e-2
            warmupSteps: 1
            precision: fp32
            checkpointEverySteps: 4
          resources:
            gpusPerNode: 0
          evaluation:
            passkey: {lengths: [128, 256], trials: 2}
            perplexity: {data: {source: "file://%s/long"}, lengths: [128], stride: 64}
            benchmarks: [{name: colors, data: {source: "file://%s/colors.jsonl"}}]
          publish:
            target: file://%s/published
        """.formatted(modelSource, src, src, src, src);
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

  static List<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  @Test
  void fetchesVerifiesCachesAndThePipelineRunsOnWhatItFetched() throws IOException {
    Path src = sources();
    Path ws = tmp.resolve("ws");
    Path config = TrainCommandTest.config(tmp, spec(src, "file://" + src + "/llama"));
    Outcome o = pose("fetch", config, ws);
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("model: LlamaForCausalLM, 2 layers, vocabulary 128").contains("original context 64");

    assertThat(files(ws.resolve("base-model"))).containsExactly(FetchManifest.FILE_NAME, "README.md", "config.json",
        "generation_config.json", "model.safetensors", "tokenizer.json");
    for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
      assertThat(Files.readAllBytes(ws.resolve("base-model").resolve(f))).isEqualTo(Files.readAllBytes(MODEL.resolve(f)));
    }
    FetchManifest m = FetchManifest.read(ws.resolve("base-model")).orElseThrow();
    assertThat(m.source()).isEqualTo("file://" + src + "/llama");
    assertThat(m.revision()).startsWith("sha256:");
    assertThat(m.files()).extracting(FetchManifest.File::path).contains("model.safetensors");
    assertThat(m.files()).allSatisfy(f -> assertThat(f.sha256()).hasSize(64));
    assertThat(files(ws.resolve("data/training"))).containsExactly(FetchManifest.FILE_NAME, "corpus.jsonl");
    assertThat(files(ws.resolve("data/eval/perplexity"))).containsExactly(FetchManifest.FILE_NAME, "part-0.jsonl");
    assertThat(files(ws.resolve("data/eval/benchmarks/colors"))).containsExactly(FetchManifest.FILE_NAME,
        "colors.jsonl");

    // the same spec again: everything comes from the cache
    Outcome again = pose("fetch", config, ws);
    assertThat(again.code()).isZero();
    assertThat(again.out()).contains("in the cache").doesNotContain(" in 0.");
    assertThat(again.out().split("in the cache", -1)).hasSize(5); // model, corpus, perplexity, benchmark

    // the pipeline runs on what was fetched
    Outcome train = pose("train", config, ws, "--progress", "none");
    assertThat(train.code()).as(train.err()).isZero();
    Outcome eval = pose("eval", config, ws, "--block", "64");
    assertThat(eval.code()).as(eval.err()).isZero();
    Outcome publish = pose("publish", config, ws);
    assertThat(publish.code()).as(publish.err()).isZero();
    String card = Files.readString(src.resolve("published/README.md"));
    assertThat(card).contains("license: apache-2.0").contains("### Passkey retrieval").contains("| colors |")
        .contains("at revision `" + m.revision() + "`");
    assertThat(train.out()).contains("base model: file://" + src + "/llama at revision " + m.revision());

    // a changed source is a new revision: fetched again, and the stale token file of the old corpus goes
    assertThat(ws.resolve("data/training.tokens")).exists();
    Files.writeString(src.resolve("corpus.jsonl"), "{\"text\": \"" + "The sun is yellow. ".repeat(40) + "\"}\n");
    Outcome changed = pose("fetch", config, ws);
    assertThat(changed.code()).isZero();
    assertThat(changed.out().split("in the cache", -1)).hasSize(4);
    assertThat(Files.readString(ws.resolve("data/training/corpus.jsonl"))).contains("The sun is yellow.");
    assertThat(ws.resolve("data/training.tokens")).doesNotExist();
  }

  @Test
  void reportsIntoTheProgressConfigMap() throws IOException {
    client.configMaps().inNamespace("test").resource(new ConfigMapBuilder().withNewMetadata().withName("tiny-progress")
        .endMetadata().build()).create();
    Path src = sources();
    System.setProperty("kubernetes.master", client.getConfiguration().getMasterUrl());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.namespace", "test");
    Outcome o;
    try {
      o = pose("fetch", TrainCommandTest.config(tmp, spec(src, "pvc://models/llama")), tmp.resolve("ws"),
          "--progress-configmap", "tiny-progress", "--workspace-uri", "pvc://tiny-workspace", "--pvc-dir",
          Files.createDirectories(tmp.resolve("mnt")).toString());
    } finally {
      System.clearProperty("kubernetes.master");
      System.clearProperty("kubernetes.trust.certificates");
      System.clearProperty("kubernetes.namespace");
    }
    // the claim is not mounted: nothing is written to the pod's own disk
    assertThat(o.code()).isEqualTo(ExitCode.INVALID_CONFIGURATION.code());
    assertThat(o.err()).contains("spec.model.source").contains("claim models is not mounted");

    Path mounted = Files.createDirectories(tmp.resolve("mnt/models"));
    Files.move(src.resolve("llama"), mounted.resolve("llama"));
    System.setProperty("kubernetes.master", client.getConfiguration().getMasterUrl());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.namespace", "test");
    try {
      o = pose("fetch", TrainCommandTest.config(tmp, spec(src, "pvc://models/llama")), tmp.resolve("ws"),
          "--progress-configmap", "tiny-progress", "--workspace-uri", "pvc://tiny-workspace", "--pvc-dir",
          tmp.resolve("mnt").toString());
    } finally {
      System.clearProperty("kubernetes.master");
      System.clearProperty("kubernetes.trust.certificates");
      System.clearProperty("kubernetes.namespace");
    }
    assertThat(o.code()).as(o.err()).isZero();
    FetchReport report = ProgressProtocol.read(client.configMaps().inNamespace("test").withName("tiny-progress").get()
        .getData(), Stage.FETCH, FetchReport.class).orElseThrow();
    assertThat(report.getOriginalContextLength()).isEqualTo(64);
    assertThat(report.getModelUri()).isEqualTo("pvc://tiny-workspace/base-model");
    assertThat(report.getArchitecture()).isEqualTo("LlamaForCausalLM");
    assertThat(report.getModelRevision()).startsWith("sha256:");
  }

  @Test
  void aModelThePipelineCannotUseFailsWithThreeNamingTheProblem() throws IOException {
    Path src = sources();
    Path model = src.resolve("llama");

    Files.delete(model.resolve("model.safetensors"));
    Outcome pickles = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + model)), tmp.resolve("ws1"));
    assertThat(pickles.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(pickles.err()).contains("no safetensors weights, only pickled PyTorch files (pytorch_model.bin)")
        .contains("runs whatever code");
    Files.copy(MODEL.resolve("model.safetensors"), model.resolve("model.safetensors"));

    ObjectNode config = (ObjectNode) JSON.readTree(MODEL.resolve("config.json").toFile());
    config.put("num_hidden_layers", 3);
    Files.writeString(model.resolve("config.json"), JSON.writeValueAsString(config));
    Outcome layers = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + model)), tmp.resolve("ws2"));
    assertThat(layers.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(layers.err()).contains("the weights do not match config.json (3 layers")
        .contains("model.layers.2.self_attn.q_proj.weight is missing");

    config.put("num_hidden_layers", 2);
    config.put("model_type", "gpt2");
    Files.writeString(model.resolve("config.json"), JSON.writeValueAsString(config));
    Outcome type = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + model)), tmp.resolve("ws3"));
    assertThat(type.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(type.err()).contains("config.json").contains("gpt2");

    Files.copy(MODEL.resolve("config.json"), model.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    ObjectNode tokenizer = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
    ((com.fasterxml.jackson.databind.node.ArrayNode) tokenizer.get("added_tokens")).addObject().put("id", 500)
        .put("content", "<extra>").put("single_word", false).put("lstrip", false).put("rstrip", false)
        .put("normalized", false).put("special", true);
    Files.writeString(model.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizer));
    Outcome vocab = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + model)), tmp.resolve("ws4"));
    assertThat(vocab.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(vocab.err()).contains("tokenizer.json: the tokenizer has ids up to 500, beyond the model's vocab_size 128");
  }

  @Test
  void missingSourcesAndSecretsHaveTheirExitCodes(@TempDir Path other) throws IOException {
    Path src = sources();
    Outcome missing = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + src + "/nowhere")),
        tmp.resolve("ws"));
    assertThat(missing.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(missing.err()).contains("spec.model.source").contains("does not exist");

    String withSecret = spec(src, "file://" + src + "/llama").replace("    source: file://" + src + "/llama\n",
        "    source: file://" + src + "/llama\n    credentialsSecret: hf-token\n");
    Outcome secret = pose("fetch", TrainCommandTest.config(tmp, withSecret), tmp.resolve("ws"), "--secrets-dir",
        other.toString());
    assertThat(secret.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
    assertThat(secret.err()).contains("Secret \"hf-token\" is not mounted");

    Outcome data = pose("fetch", TrainCommandTest.config(tmp, spec(src, "file://" + src + "/llama")
        .replace("/corpus.jsonl", "/corpus.parquet")), tmp.resolve("ws"));
    assertThat(data.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
    assertThat(data.err()).contains("spec.training.data.source");
  }
}
