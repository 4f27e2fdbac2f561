package io.pose.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.trainer.cli.Pose;
import io.pose.trainer.cli.PublishCommandTest;
import io.pose.trainer.storage.S3TestServer;
import io.pose.trainer.storage.hub.LocalHub;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * {@code pose publish} end to end, as a stage pod runs it, to the three remote schemes on loopback servers: the
 * Hub (LocalHub), S3 (s3proxy) and an OCI registry (docker-registry). Credentials come from a mounted Secret
 * directory; what arrives is the assembled tree (model files, card, configuration, results) byte for byte; a wrong
 * credential exits with code 4 and leaves nothing at the target.
 */
class PublishToServersTest {

  @TempDir
  Path tmp;

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

  Path config(String publish) throws IOException {
    Path file = tmp.resolve("spec-" + Math.abs(publish.hashCode()) + ".yaml");
    Files.writeString(file, PublishCommandTest.spec(publish));
    return file;
  }

  Path secret(String name, Map<String, String> keys) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("secrets").resolve(name));
    for (Map.Entry<String, String> e : keys.entrySet()) {
      Files.writeString(dir.resolve(e.getKey()), e.getValue());
    }
    return dir.getParent();
  }

  /**
   * The published tree as the directory target writes it: the reference for what must arrive (pose-config.yaml
   * names each publish's own target, so it is checked apart).
   */
  Map<String, byte[]> expectedTree(Path workspace) throws IOException {
    Path dest = tmp.resolve("reference");
    Outcome o = publish(config("target: file://" + dest), workspace);
    assertThat(o.code()).as(o.err()).isZero();
    Map<String, byte[]> files = new java.util.TreeMap<>();
    try (Stream<Path> s = Files.walk(dest)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        files.put(dest.relativize(p).toString(), Files.readAllBytes(p));
      }
    }
    files.put("pose-config.yaml", null);
    return files;
  }

  @Test
  void toTheHub() throws IOException {
    Path ws = PublishCommandTest.workspace(tmp.resolve("ws"), 1.0);
    Map<String, byte[]> expected = expectedTree(ws);
    try (LocalHub hub = new LocalHub(Files.createDirectories(tmp.resolve("hub")))) {
      hub.addToken("hf_write_0123456789", true);
      Path secrets = secret("hf-write", Map.of("token", "hf_write_0123456789"));
      Outcome o = publish(config("target: hf://pose-test/tiny-256\ncredentialsSecret: hf-write"), ws,
          "--secrets-dir", secrets.toString(), "--hf-endpoint", hub.endpoint().toString());
      assertThat(o.code()).as(o.err()).isZero();
      assertThat(o.out()).contains("published hf://pose-test/tiny-256 (revision " + hub.head("pose-test/tiny-256"));
      Map<String, byte[]> files = new java.util.TreeMap<>(hub.files("pose-test/tiny-256"));
      files.remove(".gitattributes");
      assertThat(files.keySet()).isEqualTo(expected.keySet());
      expected.forEach((path, bytes) -> {
        if (bytes != null) {
          assertThat(files.get(path)).as(path).isEqualTo(bytes);
        }
      });
      assertThat(new String(files.get("pose-config.yaml"))).contains("target: hf://pose-test/tiny-256");
      assertThat(hub.isLfs("pose-test/tiny-256", "model.safetensors")).isTrue();
      assertThat(hub.isPrivate("pose-test/tiny-256")).isTrue(); // spec.publish.private defaults to true
      assertThat(o.out() + o.err()).doesNotContain("hf_write_0123456789");

      Path wrong = secret("hf-wrong", Map.of("token", "hf_not_a_token"));
      String before = hub.head("pose-test/tiny-256");
      Outcome rejected = publish(config("target: hf://pose-test/tiny-256\ncredentialsSecret: hf-wrong"), ws,
          "--secrets-dir", wrong.toString(), "--hf-endpoint", hub.endpoint().toString());
      assertThat(rejected.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
      assertThat(rejected.err()).contains("rejected the token").doesNotContain("hf_not_a_token");
      assertThat(hub.head("pose-test/tiny-256")).isEqualTo(before);
    }
  }

  @Test
  void toS3() throws Exception {
    Path ws = PublishCommandTest.workspace(tmp.resolve("ws"), 1.0);
    Map<String, byte[]> expected = expectedTree(ws);
    try (S3TestServer server = S3TestServer.start("pose-access", "pose-secret")) {
      S3Client s3 = server.admin();
      s3.createBucket(b -> b.bucket("models"));
      Path secrets = secret("s3-write", server.secretKeys());
      Outcome o = publish(config("target: s3://models/pose/tiny-256\ncredentialsSecret: s3-write"), ws,
          "--secrets-dir", secrets.toString());
      assertThat(o.code()).as(o.err()).isZero();
      assertThat(o.out()).contains("published s3://models/pose/tiny-256");
      for (Map.Entry<String, byte[]> e : expected.entrySet()) {
        byte[] got = s3.getObjectAsBytes(b -> b.bucket("models").key("pose/tiny-256/" + e.getKey())).asByteArray();
        if (e.getValue() != null) {
          assertThat(got).as(e.getKey()).isEqualTo(e.getValue());
        } else {
          assertThat(new String(got)).contains("target: s3://models/pose/tiny-256");
        }
      }
      assertThat(s3.listObjectsV2(b -> b.bucket("models").prefix("pose/tiny-256/")).contents())
          .extracting(o2 -> o2.key().substring("pose/tiny-256/".length()))
          .containsExactlyInAnyOrderElementsOf(concat(expected.keySet(), "pose-manifest.json"));

      Path wrong = secret("s3-wrong", Map.of("accessKeyId", "pose-access", "secretAccessKey", "not-the-secret",
          "endpoint", server.uri().toString(), "region", "us-east-1"));
      Outcome rejected = publish(config("target: s3://models/other\ncredentialsSecret: s3-wrong"), ws,
          "--secrets-dir", wrong.toString());
      assertThat(rejected.code()).isEqualTo(ExitCode.CREDENTIALS_REJECTED.code());
      assertThat(rejected.err()).doesNotContain("not-the-secret");
      assertThat(s3.listObjectsV2(b -> b.bucket("models").prefix("other")).contents()).isEmpty();
    }
  }

  @Test
  void toAnOciRegistry() throws Exception {
    Path ws = PublishCommandTest.workspace(tmp.resolve("ws"), 1.0);
    Map<String, byte[]> expected = expectedTree(ws);
    OciTargetTest.Registry registry = OciTargetTest.Registry.start(tmp.resolve("registry"),
        tmp.resolve("registry-storage"), false);
    try {
      // scratch: nothing to pull from outside; a cluster uses the default busybox base (KServe's sidecar needs a shell)
      Outcome o = publish(config("target: oci://127.0.0.1:" + registry.port + "/models/tiny-256:v1"), ws,
          "--modelcar-base", "scratch");
      assertThat(o.code()).as(o.err()).isZero();
      String digest = o.out().replaceAll("(?s).*revision (sha256:[0-9a-f]{64}).*", "$1");
      HttpResponse<byte[]> manifest = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
              "http://127.0.0.1:" + registry.port + "/v2/models/tiny-256/manifests/v1"))
          .header("Accept", "application/vnd.oci.image.manifest.v1+json").build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(manifest.statusCode()).isEqualTo(200);
      assertThat(manifest.headers().firstValue("Docker-Content-Digest")).contains(digest);
      // every file of the tree is in a layer under /models, byte for byte
      Map<String, byte[]> contents = new java.util.HashMap<>();
      for (String layer : OciTargetTest.layerDigests(new com.fasterxml.jackson.databind.ObjectMapper()
          .readTree(manifest.body()))) {
        byte[] blob = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + registry.port + "/v2/models/tiny-256/blobs/" + layer)).build(), HttpResponse.BodyHandlers.ofByteArray())
            .body();
        OciTargetTest.entries(OciTargetTest.gunzip(blob), contents);
      }
      for (Map.Entry<String, byte[]> e : expected.entrySet()) {
        assertThat(contents).as("layers").containsKey("models/" + e.getKey());
        if (e.getValue() != null) {
          assertThat(contents.get("models/" + e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
        }
      }
    } finally {
      registry.kill();
    }
  }

  static List<String> concat(java.util.Collection<String> a, String b) {
    List<String> out = new ArrayList<>(a);
    out.add(b);
    return out;
  }
}
