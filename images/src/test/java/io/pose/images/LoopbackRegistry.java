package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.stream.Stream;

/** Debian's docker-registry (distribution v2.8) on a loopback port, as the trainer's OCI publish tests run it. */
final class LoopbackRegistry implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final String MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json,"
      + "application/vnd.docker.distribution.manifest.v2+json";

  final Process process;
  final int port;

  private LoopbackRegistry(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  static LoopbackRegistry start(Path dir) throws Exception {
    Path binary = Stream.concat(Stream.of("/usr/bin"), Stream.of(System.getenv().getOrDefault("PATH", "")
            .split(File.pathSeparator)))
        .map(d -> Path.of(d, "docker-registry")).filter(Files::isExecutable).findFirst()
        .orElseGet(() -> fail("docker-registry is not installed: these tests push images to a real registry, "
            + "Debian's docker-registry; .ci/run installs it (apt-get install -y docker-registry)"));
    Files.createDirectories(dir.resolve("storage"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("config.yml");
    Files.writeString(config, """
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: %s
        http:
          addr: 127.0.0.1:%d
        """.formatted(dir.resolve("storage").toAbsolutePath(), port));
    Path log = dir.resolve("registry.log");
    Process process = new ProcessBuilder(binary.toString(), "serve", config.toString()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    LoopbackRegistry registry = new LoopbackRegistry(process, port);
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      try {
        if (HTTP.send(HttpRequest.newBuilder(registry.url("/v2/")).build(), HttpResponse.BodyHandlers.discarding())
            .statusCode() == 200) {
          return registry;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    registry.close();
    return fail("docker-registry did not start:\n" + Files.readString(log));
  }

  String authority() {
    return "127.0.0.1:" + port;
  }

  URI url(String path) {
    return URI.create("http://" + authority() + path);
  }

  /** A manifest by tag or digest, checked against the digest the registry states for it. */
  Manifest manifest(String repository, String reference) throws Exception {
    HttpResponse<byte[]> r = HTTP.send(HttpRequest.newBuilder(url("/v2/" + repository + "/manifests/" + reference))
        .header("Accept", MANIFEST_TYPES).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(r.statusCode()).as("GET manifest " + repository + ":" + reference).isEqualTo(200);
    String digest = "sha256:" + sha256(r.body());
    assertThat(r.headers().firstValue("Docker-Content-Digest")).contains(digest);
    return new Manifest(digest, JSON.readTree(r.body()));
  }

  record Manifest(String digest, JsonNode json) {}

  /** A blob by its descriptor, checked against the descriptor's digest and size. */
  byte[] blob(String repository, JsonNode descriptor) throws Exception {
    String digest = descriptor.path("digest").asText();
    HttpResponse<byte[]> r = HTTP.send(HttpRequest.newBuilder(url("/v2/" + repository + "/blobs/" + digest)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(r.statusCode()).as("GET blob " + digest).isEqualTo(200);
    assertThat((long) r.body().length).isEqualTo(descriptor.path("size").asLong());
    assertThat("sha256:" + sha256(r.body())).isEqualTo(digest);
    return r.body();
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
