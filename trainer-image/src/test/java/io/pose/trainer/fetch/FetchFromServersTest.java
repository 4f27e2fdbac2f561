package io.pose.trainer.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.trainer.cli.Pose;
import io.pose.trainer.storage.S3TestServer;
import io.pose.trainer.storage.hub.LocalHub;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * {@code pose fetch} end to end, as a stage pod runs it, from remote sources on loopback servers: a gated model from
 * the Hub (LocalHub) and a model and data from S3 (s3proxy), with credentials from a mounted Secret directory; a
 * second fetch downloads nothing, a new revision fetches again; missing or wrong credentials exit with 4, an
 * unknown revision with 3.
 */
class FetchFromServersTest {

  static final Path MODEL = Path.of("src/test/resources/tiny-models/llama");
  static S3TestServer s3server;
  static S3Client s3;

  @TempDir
  Path tmp;

  @BeforeAll
  static void start() throws Exception {
    s3server = S3TestServer.start("pose-access", "pose-secret");
    s3 = s3server.admin();
    s3.createBucket(b -> b.bucket("models"));
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      s3.putObject(b -> b.bucket("models").key("tiny/llama/" + f), RequestBody.fromFile(MODEL.resolve(f)));
    }
    s3.putObject(b -> b.bucket("models").key("corpora/tiny.jsonl"), RequestBody.fromString(
        "{\"text\": \"" + "The grass is green. ".repeat(50) + "\"}\n"));
  }

  @AfterAll
  static void stop() {
    s3server.close();
  }

  record Outcome(int code, String out, String err) {}

  Outcome fetch(String spec, Path ws, String... extra) throws IOException {
    Path config = tmp.resolve("spec-" + Math.abs(spec.hashCode()) + ".yaml");
    Files.writeString(config, spec);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> args = new ArrayList<>(List.of("fetch", "--config", config.toString(), "--workspace", ws.toString()));
    args.addAll(List.of(extra));
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
    return new Outcome(code, out.toString(), err.toString());
  }

  static String spec(String model, String modelSecret, String data, String dataSecret) {
    return """
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata:
          name: tiny
        spec:
          model:
            source: %s
            credentialsSecret: %s
          targetContextLength: 256
          pose:
            trainingWindow: 32
          training:
            data:
              source: %s
              credentialsSecret: %s
        """.formatted(model, modelSecret, data, dataSecret);
  }

  Path secret(String name, Map<String, String> keys) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("secrets").resolve(name));
    for (Map.Entry<String, String> e : keys.entrySet()) {
      Files.writeString(dir.resolve(e.getKey()), e.getValue());
    }
    return dir.getParent();
  }

  @Test
  void fromTheHub() throws IOException {
    try (LocalHub hub = new LocalHub(Files.createDirectories(tmp.resolve("hub")))) {
      hub.addToken("hf_read_0123456789", false);
      hub.createRepo("tiny/llama", false);
      Map<String, byte[]> files = new java.util.HashMap<>();
      for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
        files.put(f, Files.readAllBytes(MODEL.resolve(f)));
      }
      files.put("pytorch_model.bin", new byte[] {1, 2, 3});
      String commit = hub.commitDirectly("tiny/llama", "upload", files);
      hub.gate("tiny/llama", "hf_read_0123456789");
      Path secrets = secret("hf-token", Map.of("token", "hf_read_0123456789"));
      Path corpus = Files.writeString(tmp.resolve("corpus.jsonl"), "{\"text\": \"" + "The sky is blue. ".repeat(40)
          + "\"}\n");
      String spec = spec("hf://tiny/llama", "hf-token", "file://" + corpus, "hf-token");
      Path ws = tmp.resolve("ws");
      Outcome o = fetch(spec, ws, "--secrets-dir", secrets.toString(), "--hf-endpoint", hub.endpoint().toString());
      assertThat(o.code()).as(o.err()).isZero();
      assertThat(o.out()).contains("hf://tiny/llama @ " + commit);
      for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
        assertThat(ws.resolve("base-model").resolve(f)).hasSameBinaryContentAs(MODEL.resolve(f));
      }
      assertThat(ws.resolve("base-model/pytorch_model.bin")).doesNotExist();
      assertThat(FetchManifest.read(ws.resolve("base-model")).orElseThrow().revision()).isEqualTo(commit);
      assertThat(o.out() + o.err()).doesNotContain("hf_read_0123456789");

      // the same spec: nothing downloaded; a new commit: fetched again
      Outcome again = fetch(spec, ws, "--secrets-dir", secrets.toString(), "--hf-endpoint", hub.endpoint().toString());
      assertThat(again.out().split("in the cache", -1)).hasSize(3);
      String next = hub.commitDirectly("tiny/llama", "readme", Map.of("README.md", "# tiny\n".getBytes()));
      Outcome changed = fetch(spec, ws, "--secrets-dir", secrets.toString(), "--hf-endpoint",
          hub.endpoint().toString());
      assertThat(changed.code()).isZero();
      assertThat(changed.out()).contains("hf://tiny/llama @ " + next);
      assertThat(ws.resolve("base-model/README.md")).content().isEqualTo("# tiny\n");

      // gated: no token is a credentials failure that says what to set
      Outcome noToken = fetch(spec("hf://tiny/llama", "none", "file://" + corpus, "none").replace(
          "    credentialsSecret: none\n", ""), tmp.resolve("ws2"), "--hf-endpoint", hub.endpoint().toString());
      assertThat(noToken.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
      assertThat(noToken.err()).contains("gated").contains("spec.model.credentialsSecret");

      Outcome unknown = fetch(spec("hf://tiny/llama@v9", "hf-token", "file://" + corpus, "hf-token"),
          tmp.resolve("ws3"), "--secrets-dir", secrets.toString(), "--hf-endpoint", hub.endpoint().toString());
      assertThat(unknown.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
      assertThat(unknown.err()).contains("v9");
    }
  }

  @Test
  void fromS3() throws IOException {
    Path secrets = secret("s3-read", s3server.secretKeys());
    Path ws = tmp.resolve("ws");
    String spec = spec("s3://models/tiny/llama", "s3-read", "s3://models/corpora/tiny.jsonl", "s3-read");
    Outcome o = fetch(spec, ws, "--secrets-dir", secrets.toString());
    assertThat(o.code()).as(o.err()).isZero();
    for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
      assertThat(ws.resolve("base-model").resolve(f)).hasSameBinaryContentAs(MODEL.resolve(f));
    }
    assertThat(ws.resolve("data/training/tiny.jsonl")).content().contains("The grass is green.");
    FetchManifest m = FetchManifest.read(ws.resolve("base-model")).orElseThrow();
    assertThat(m.source()).isEqualTo("s3://models/tiny/llama");
    assertThat(m.files()).allSatisfy(f -> assertThat(f.sha256()).hasSize(64));

    Outcome again = fetch(spec, ws, "--secrets-dir", secrets.toString());
    assertThat(again.code()).isZero();
    assertThat(again.out().split("in the cache", -1)).hasSize(3);

    Path wrong = secret("s3-wrong", Map.of("accessKeyId", "pose-access", "secretAccessKey", "not-the-secret",
        "endpoint", s3server.uri().toString(), "region", "us-east-1"));
    Outcome rejected = fetch(spec("s3://models/tiny/llama", "s3-wrong", "s3://models/corpora/tiny.jsonl", "s3-wrong"),
        tmp.resolve("ws2"), "--secrets-dir", wrong.toString());
    assertThat(rejected.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
    assertThat(rejected.err()).contains("spec.model.source").doesNotContain("not-the-secret");

    Outcome missing = fetch(spec("s3://models/tiny/nothing", "s3-read", "s3://models/corpora/tiny.jsonl", "s3-read"),
        tmp.resolve("ws3"), "--secrets-dir", secrets.toString());
    assertThat(missing.code()).isEqualTo(ExitCode.MISSING_INPUT.code());
  }
}
