package io.pose.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import io.pose.trainer.publish.PublishTarget.Published;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mindrot.jbcrypt.BCrypt;

/**
 * The oci:// target against real registries on loopback: Debian's docker-registry (distribution v2.8), one open and
 * one with htpasswd authentication, each in its own process; layers and manifests read back over the registry API.
 */
class OciTargetTest {

  static final String USER = "pose";
  static final String PASSWORD = "correct-horse-battery";
  static final String SECRET = "registry-push";
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  static Path work;
  static Registry open;
  static Registry secured;

  @BeforeAll
  static void startRegistries() throws Exception {
    open = Registry.start(work.resolve("open"), work.resolve("open-storage"), false);
    secured = Registry.start(work.resolve("secured"), work.resolve("secured-storage"), true);
  }

  @AfterAll
  static void stopRegistries() {
    for (Registry r : new Registry[] {open, secured}) {
      if (r != null) {
        r.kill();
      }
    }
  }

  @Test
  void publishesTheTreeUnderModelsOneLayerPerShardAndOneForTheSmallFiles() throws Exception {
    Path tree = tinyModel(work.resolve("layout"));
    OciTarget target = new OciTarget(uri(open, "models/tiny:v1"), Credentials.none(), OciTarget.SCRATCH, false, work);

    Published published = target.publish(tree, "tiny model, PoSE-extended");

    assertThat(published.uri()).isEqualTo("oci://" + open.authority() + "/models/tiny:v1");
    assertThat(published.revision()).matches("sha256:[0-9a-f]{64}");
    Manifest manifest = open.manifest("models/tiny", "v1");
    assertThat(manifest.contentType()).isEqualTo(OCI_MANIFEST);
    assertThat(manifest.digestHeader()).as("Docker-Content-Digest of the tag").isEqualTo(published.revision());
    assertThat(sha256(manifest.body())).isEqualTo(published.revision());
    JsonNode json = manifest.json();
    assertThat(json.path("schemaVersion").asInt()).isEqualTo(2);
    assertThat(json.path("mediaType").asText()).isEqualTo(OCI_MANIFEST);
    assertThat(json.path("config").path("mediaType").asText()).isEqualTo("application/vnd.oci.image.config.v1+json");
    assertThat(json.path("layers")).hasSize(3);
    for (JsonNode layer : json.path("layers")) {
      assertThat(layer.path("mediaType").asText()).isEqualTo("application/vnd.oci.image.layer.v1.tar+gzip");
    }

    JsonNode config = JSON.readTree(open.blob("models/tiny", json.path("config")));
    assertThat(config.path("os").asText()).isEqualTo("linux");
    assertThat(config.path("architecture").asText()).isEqualTo("amd64");
    assertThat(config.path("created").asText()).isEqualTo("1970-01-01T00:00:00Z");
    assertThat(config.path("config").path("Labels").path("org.opencontainers.image.description").asText())
        .isEqualTo("tiny model, PoSE-extended");
    assertThat(config.path("rootfs").path("diff_ids")).hasSize(3);

    List<Map<String, TarArchiveEntry>> layers = new ArrayList<>();
    Map<String, byte[]> contents = new LinkedHashMap<>();
    for (int i = 0; i < 3; i++) {
      byte[] tar = gunzip(open.blob("models/tiny", json.path("layers").get(i)));
      assertThat(sha256(tar)).as("diff_id of layer " + i)
          .isEqualTo(config.path("rootfs").path("diff_ids").get(i).asText());
      layers.add(entries(tar, contents));
    }
    assertThat(layers.get(0)).containsOnlyKeys("models/", "models/model-00001-of-00002.safetensors");
    assertThat(layers.get(1)).containsOnlyKeys("models/", "models/model-00002-of-00002.safetensors");
    assertThat(layers.get(2)).containsOnlyKeys("models/", "models/README.md", "models/config.json",
        "models/tokenizer.json", "models/eval/", "models/eval/passkey/", "models/eval/passkey/results.json");
    for (Map<String, TarArchiveEntry> layer : layers) {
      for (TarArchiveEntry e : layer.values()) {
        assertThat(e.getMode() & 0777).as(e.getName()).isEqualTo(e.isDirectory() ? 0755 : 0644);
        assertThat(e.isDirectory() || e.isFile()).as(e.getName() + " is a file or a directory").isTrue();
        assertThat(e.getModTime().getTime()).as(e.getName() + " modification time").isEqualTo(1000L);
        assertThat(e.getLongUserId()).isZero();
        assertThat(e.getLongGroupId()).isZero();
      }
    }
    for (String file : treeFiles(tree)) {
      assertThat(contents.get("models/" + file)).as(file).isEqualTo(Files.readAllBytes(tree.resolve(file)));
    }
    assertThat(contents).hasSize(treeFiles(tree).size());
  }

  @Test
  void republishingAfterOneShardChangedReusesTheOtherLayers() throws Exception {
    Path tree = tinyModel(work.resolve("reuse"));
    Path scratch = Files.createDirectories(work.resolve("reuse-scratch"));
    OciTarget v1 = new OciTarget(uri(open, "models/reuse:v1"), Credentials.none(), OciTarget.SCRATCH, false, scratch);
    Published first = v1.publish(tree, "v1");
    Path shard = tree.resolve("model-00002-of-00002.safetensors");
    byte[] bytes = Files.readAllBytes(shard);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(shard, bytes);
    OciTarget v2 = new OciTarget(uri(open, "models/reuse:v2"), Credentials.none(), OciTarget.SCRATCH, false, scratch);
    Published second = v2.publish(tree, "v1");

    List<String> before = layerDigests(open.manifest("models/reuse", "v1").json());
    List<String> after = layerDigests(open.manifest("models/reuse", "v2").json());
    assertThat(second.revision()).isNotEqualTo(first.revision());
    assertThat(after.get(0)).as("unchanged shard").isEqualTo(before.get(0));
    assertThat(after.get(1)).as("changed shard").isNotEqualTo(before.get(1));
    assertThat(after.get(2)).as("unchanged small files").isEqualTo(before.get(2));

    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(shard, bytes);
    Files.setLastModifiedTime(shard, FileTime.fromMillis(123_456_789_000L));
    OciTarget v3 = new OciTarget(uri(open, "models/reuse:v3"), Credentials.none(), OciTarget.SCRATCH, false, scratch);
    assertThat(v3.publish(tree, "v1").revision()).as("the same tree gives the same digest, whatever the file times")
        .isEqualTo(first.revision());
    try (var left = Files.list(scratch)) {
      assertThat(left).as("Jib's layer cache is deleted").isEmpty();
    }
  }

  @Test
  void modelLayersGoOnTopOfTheBaseImage() throws Exception {
    // A stand-in for busybox in the same registry (CI has no network): one layer with /bin/sh.
    Path base = Files.createDirectories(work.resolve("base/bin"));
    Files.writeString(base.resolve("sh"), "#!fake shell\n");
    String baseImage = open.authority() + "/library/shell:1";
    Jib.fromScratch()
        .addFileEntriesLayer(FileEntriesLayer.builder().addEntry(base.resolve("sh"), AbsoluteUnixPath.get("/bin/sh"))
            .build())
        .setFormat(ImageFormat.OCI)
        .containerize(Containerizer.to(RegistryImage.named(baseImage)).setAllowInsecureRegistries(true));
    String baseLayer = layerDigests(open.manifest("library/shell", "1").json()).get(0);

    Path tree = tinyModel(work.resolve("on-base"));
    new OciTarget(uri(open, "models/on-base:v1"), Credentials.none(), baseImage, false, work).publish(tree, "m");

    List<String> layers = layerDigests(open.manifest("models/on-base", "v1").json());
    assertThat(layers).hasSize(4);
    assertThat(layers.get(0)).as("the base image's layer first").isEqualTo(baseLayer);
  }

  @Test
  void pushesWithTheDockerConfigSecret() throws Exception {
    Path tree = tinyModel(work.resolve("auth"));
    String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
    Credentials secret = dockerConfig("{\"auths\":{\"http://" + secured.authority() + "/v2/\":{\"auth\":\"" + auth
        + "\"}}}");
    Published published = new OciTarget(uri(secured, "models/private:v1"), secret, OciTarget.SCRATCH, false, work)
        .publish(tree, "private");
    assertThat(secured.manifest("models/private", "v1").digestHeader()).isEqualTo(published.revision());

    Credentials fields = dockerConfig("{\"auths\":{\"" + secured.authority() + "\":{\"username\":\"" + USER
        + "\",\"password\":\"" + PASSWORD + "\"}}}");
    Published again = new OciTarget(uri(secured, "models/private:v2"), fields, OciTarget.SCRATCH, false, work)
        .publish(tree, "private");
    assertThat(again.revision()).isEqualTo(published.revision());
  }

  @Test
  void aWrongPasswordIsRejectedCredentialsNamingTheRegistryAndSecretButNotThePassword() throws Exception {
    Path tree = tinyModel(work.resolve("wrong"));
    String wrong = "not-the-password-42";
    String auth = Base64.getEncoder().encodeToString((USER + ":" + wrong).getBytes(StandardCharsets.UTF_8));
    Credentials secret = dockerConfig("{\"auths\":{\"" + secured.authority() + "\":{\"auth\":\"" + auth + "\"}}}");
    OciTarget target = new OciTarget(uri(secured, "models/private:wrong"), secret, OciTarget.SCRATCH, false, work);

    assertThatThrownBy(() -> target.publish(tree, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining(secured.authority())
        .hasMessageContaining("Secret \"" + SECRET + "\"")
        .hasMessageContaining("401/403")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(wrong).doesNotContain(auth));

    OciTarget anonymous = new OciTarget(uri(secured, "models/private:anon"), Credentials.none(), OciTarget.SCRATCH,
        false, work);
    assertThatThrownBy(() -> anonymous.publish(tree, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("no credentials Secret")
        .hasMessageContaining(OciTarget.DOCKER_CONFIG_KEY);
    assertThat(secured.manifestStatus("models/private", "wrong")).isEqualTo(404);
  }

  @Test
  void aSecretWithoutTheDockerConfigKeyOrWithBrokenJsonFailsBeforeAnyPush() throws Exception {
    Path tree = tinyModel(work.resolve("broken"));
    OciTarget noKey = new OciTarget(uri(open, "models/broken:v1"),
        Credentials.of(SECRET, Map.of("password", "x")), OciTarget.SCRATCH, false, work);
    assertThatThrownBy(() -> noKey.publish(tree, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("Secret \"" + SECRET + "\" has no key \".dockerconfigjson\"");
    OciTarget broken = new OciTarget(uri(open, "models/broken:v1"),
        Credentials.of(SECRET, Map.of(".dockerconfigjson", "{\"auths\": {\"r\": {\"auth\": \"hunter2")),
        OciTarget.SCRATCH, false, work);
    assertThatThrownBy(() -> broken.publish(tree, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("not JSON")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    assertThat(open.manifestStatus("models/broken", "v1")).isEqualTo(404);
  }

  @Test
  void anUnreachableRegistryIsAnIOExceptionNamingIt() throws Exception {
    Path tree = tinyModel(work.resolve("unreachable"));
    int port = freePort();
    OciTarget target = new OciTarget(StorageUri.parse("oci://127.0.0.1:" + port + "/models/tiny:v1", "test"),
        Credentials.none(), OciTarget.SCRATCH, false, work);
    assertThatThrownBy(() -> target.publish(tree, "m"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("oci://127.0.0.1:" + port + "/models/tiny:v1")
        .hasMessageContaining("cannot reach the registry");
  }

  @Test
  void aRegistryKilledHalfwayThroughThePushLeavesNoTagAndTheOldTagIntact() throws Exception {
    Path storage = work.resolve("killed-storage");
    Registry registry = Registry.start(work.resolve("killed"), storage, false);
    try (KillingProxy proxy = new KillingProxy(registry)) {
      Path tree = tinyModel(work.resolve("killed-tree"));
      StorageUri v1 = StorageUri.parse("oci://" + proxy.authority() + "/models/tiny:v1", "test");
      Published first = new OciTarget(v1, Credentials.none(), OciTarget.SCRATCH, false, work).publish(tree, "m");

      Files.write(tree.resolve("model-00001-of-00002.safetensors"), random(1 << 20, 99));
      proxy.armed.set(true);
      StorageUri v2 = StorageUri.parse("oci://" + proxy.authority() + "/models/tiny:v2", "test");
      assertThatThrownBy(() -> new OciTarget(v2, Credentials.none(), OciTarget.SCRATCH, false, work).publish(tree, "m"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("oci://" + proxy.authority() + "/models/tiny:v2");
      assertThat(proxy.killed).as("the registry died during the push").isTrue();
    } finally {
      registry.kill();
    }

    Registry restarted = Registry.start(work.resolve("restarted"), storage, false);
    try {
      assertThat(restarted.manifestStatus("models/tiny", "v2")).as("no tag after the interrupted push").isEqualTo(404);
      assertThat(restarted.manifestStatus("models/tiny", "v1")).as("the earlier tag").isEqualTo(200);
      HttpResponse<String> tags = HTTP.send(HttpRequest.newBuilder(restarted.url("/v2/models/tiny/tags/list")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(JSON.readTree(tags.body()).path("tags").toString()).isEqualTo("[\"v1\"]");
    } finally {
      restarted.kill();
    }
  }

  @Test
  void dockerConfigKeysMayBeUrlsAndDockerHubHasSeveralNames() {
    assertThat(OciTarget.registryHost("https://index.docker.io/v1/")).isEqualTo("docker.io");
    assertThat(OciTarget.registryHost("registry-1.docker.io")).isEqualTo("docker.io");
    assertThat(OciTarget.registryHost("http://127.0.0.1:5000/v2/")).isEqualTo("127.0.0.1:5000");
    assertThat(OciTarget.registryHost("Quay.io")).isEqualTo("quay.io");
  }

  @Test
  void onlyLoopbackRegistriesMayUsePlainHttpUnlessAskedFor() {
    assertThat(OciTarget.isLoopback("127.0.0.1:5000")).isTrue();
    assertThat(OciTarget.isLoopback("localhost")).isTrue();
    assertThat(OciTarget.isLoopback("127.example.com")).isFalse();
    assertThat(OciTarget.isLoopback("registry.example.com:5000")).isFalse();
    StorageUri remote = StorageUri.parse("oci://registry.example.com/models/tiny", "test");
    assertThat(new OciTarget(remote, Credentials.none())).hasToString(
        "OciTarget[oci://registry.example.com/models/tiny, base busybox:1.36, no credentials]");
    assertThat(new OciTarget(remote, Credentials.none(), "busybox:1.36", true, null).toString()).contains("insecure");
    assertThatThrownBy(() -> new OciTarget(StorageUri.parse("s3://bucket/x", "test"), Credentials.none()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an oci:// URI");
    assertThatThrownBy(() -> new OciTarget(remote, Credentials.none(), "Not An Image", false, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("base image \"Not An Image\"");
  }

  // ---- fixtures ----

  /** config, tokenizer, README, two ~1 MB fake shards and a nested evaluation result. */
  static Path tinyModel(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("eval/passkey"));
    Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"max_position_embeddings\":8192}\n");
    Files.writeString(dir.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\"}}\n");
    Files.writeString(dir.resolve("README.md"), "# tiny\n\nPoSE-extended to 8192 tokens.\n");
    Files.write(dir.resolve("model-00001-of-00002.safetensors"), random(1 << 20, 1));
    Files.write(dir.resolve("model-00002-of-00002.safetensors"), random((1 << 20) + 17, 2));
    Files.writeString(dir.resolve("eval/passkey/results.json"), "{\"accuracy\":1.0}\n");
    return dir;
  }

  static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  static List<String> treeFiles(Path tree) throws IOException {
    try (var walk = Files.walk(tree)) {
      return walk.filter(Files::isRegularFile).map(p -> tree.relativize(p).toString()).sorted().toList();
    }
  }

  static StorageUri uri(Registry registry, String repositoryAndTag) {
    return StorageUri.parse("oci://" + registry.authority() + "/" + repositoryAndTag, "test");
  }

  static Credentials dockerConfig(String json) {
    return Credentials.of(SECRET, Map.of(OciTarget.DOCKER_CONFIG_KEY, json));
  }

  static List<String> layerDigests(JsonNode manifest) {
    List<String> digests = new ArrayList<>();
    manifest.path("layers").forEach(l -> digests.add(l.path("digest").asText()));
    return digests;
  }

  static Map<String, TarArchiveEntry> entries(byte[] tar, Map<String, byte[]> contents) throws IOException {
    Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        assertThat(entries.put(e.getName(), e)).as("one entry per name: " + e.getName()).isNull();
        if (e.isFile()) {
          byte[] previous = contents.put(e.getName(), in.readAllBytes());
          assertThat(previous).as(e.getName() + " is in one layer only").isNull();
        }
      }
    }
    return entries;
  }

  static byte[] gunzip(byte[] gz) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  record Manifest(String contentType, String digestHeader, byte[] body) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  /** A docker-registry process on a free loopback port, with its storage in a directory that may outlive it. */
  static final class Registry {
    final Process process;
    final int port;
    final boolean authenticated;
    final Path log;

    private Registry(Process process, int port, boolean authenticated, Path log) {
      this.process = process;
      this.port = port;
      this.authenticated = authenticated;
      this.log = log;
    }

    static Registry start(Path dir, Path storage, boolean htpasswd) throws Exception {
      Path binary = Stream.concat(Stream.of("/usr/bin"), Stream.of(System.getenv().getOrDefault("PATH", "")
              .split(File.pathSeparator)))
          .map(d -> Path.of(d, "docker-registry")).filter(Files::isExecutable).findFirst()
          .orElseGet(() -> fail("docker-registry is not installed (neither /usr/bin nor the PATH has it): these "
              + "tests need a real OCI registry, Debian's docker-registry (distribution v2.8); .ci/run installs it "
              + "(apt-get install -y docker-registry)"));
      Files.createDirectories(dir);
      Files.createDirectories(storage);
      int port = freePort();
      StringBuilder config = new StringBuilder("""
          version: 0.1
          log:
            level: warn
            accesslog:
              disabled: true
          storage:
            filesystem:
              rootdirectory: %s
            delete:
              enabled: true
          http:
            addr: 127.0.0.1:%d
            relativeurls: true
          """.formatted(storage.toAbsolutePath(), port));
      if (htpasswd) {
        Path passwords = dir.resolve("htpasswd");
        Files.writeString(passwords, USER + ":" + BCrypt.hashpw(PASSWORD, BCrypt.gensalt(4)) + "\n");
        config.append("""
            auth:
              htpasswd:
                realm: pose-test
                path: %s
            """.formatted(passwords.toAbsolutePath()));
      }
      Path file = dir.resolve("config.yml");
      Files.writeString(file, config);
      Path log = dir.resolve("registry.log");
      Process process = new ProcessBuilder(binary.toString(), "serve", file.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      Registry registry = new Registry(process, port, htpasswd, log);
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (System.nanoTime() < deadline && process.isAlive()) {
        try {
          int status = HTTP.send(HttpRequest.newBuilder(registry.url("/v2/")).build(),
              HttpResponse.BodyHandlers.discarding()).statusCode();
          if (status == 200 || status == 401) {
            return registry;
          }
        } catch (IOException notYet) {
          // not listening yet
        }
        Thread.sleep(50);
      }
      registry.kill();
      return fail("docker-registry did not start on port " + port + ":\n" + Files.readString(log));
    }

    String authority() {
      return "127.0.0.1:" + port;
    }

    URI url(String path) {
      return URI.create("http://" + authority() + path);
    }

    HttpRequest.Builder request(String path) {
      HttpRequest.Builder b = HttpRequest.newBuilder(url(path)).timeout(Duration.ofSeconds(10));
      if (authenticated) {
        b.header("Authorization", "Basic " + Base64.getEncoder()
            .encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)));
      }
      return b;
    }

    Manifest manifest(String repository, String tag) throws Exception {
      HttpResponse<byte[]> r = HTTP.send(request("/v2/" + repository + "/manifests/" + tag)
          .header("Accept", OCI_MANIFEST).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(r.statusCode()).as("GET manifest " + repository + ":" + tag).isEqualTo(200);
      return new Manifest(r.headers().firstValue("Content-Type").orElse(""),
          r.headers().firstValue("Docker-Content-Digest").orElse(""), r.body());
    }

    int manifestStatus(String repository, String tag) throws Exception {
      return HTTP.send(request("/v2/" + repository + "/manifests/" + tag).header("Accept", OCI_MANIFEST).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** A blob by its descriptor, checked against the descriptor's digest and size. */
    byte[] blob(String repository, JsonNode descriptor) throws Exception {
      String digest = descriptor.path("digest").asText();
      HttpResponse<byte[]> r = HTTP.send(request("/v2/" + repository + "/blobs/" + digest).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      assertThat(r.statusCode()).as("GET blob " + digest).isEqualTo(200);
      assertThat(r.body()).hasSize(descriptor.path("size").asInt());
      assertThat(sha256(r.body())).isEqualTo(digest);
      return r.body();
    }

    void kill() {
      process.destroyForcibly();
      try {
        process.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * A TCP proxy in front of a registry, like an ingress: once armed, it kills the registry (SIGKILL) when the second
   * blob upload is about to be committed (its {@code PUT .../blobs/uploads/...?digest=}), so one blob is in and the
   * others are not, and from then on answers 502 Bad Gateway, as an ingress does for a dead backend (without one, Jib
   * retries refused connections with back-off for about a minute before it gives up). It closes TLS connections at
   * once, as a plain-HTTP registry's port fails them, so that Jib falls back to HTTP.
   */
  static final class KillingProxy implements AutoCloseable {
    static final int KILL_AT_COMMIT = 2;
    final AtomicBoolean armed = new AtomicBoolean();
    final AtomicInteger commits = new AtomicInteger();
    volatile boolean killed;
    private final Registry registry;
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "killing-proxy");
      t.setDaemon(true);
      return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    KillingProxy(Registry registry) throws IOException {
      this.registry = registry;
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      threads.submit(this::accept);
    }

    String authority() {
      return "127.0.0.1:" + server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket client = server.accept();
          sockets.add(client);
          threads.submit(() -> serve(client));
        } catch (IOException closed) {
          return;
        }
      }
    }

    private void serve(Socket client) {
      try (client) {
        InputStream in = client.getInputStream();
        int first = in.read();
        if (first < 0 || first == 0x16) { // 0x16: a TLS handshake record
          return;
        }
        if (killed) {
          badGateway(client);
          return;
        }
        try (Socket upstream = new Socket(InetAddress.getLoopbackAddress(), registry.port)) {
          sockets.add(upstream);
          threads.submit(() -> pipe(upstream, client));
          OutputStream out = upstream.getOutputStream();
          out.write(first);
          byte[] buffer = new byte[64 << 10];
          String tail = String.valueOf((char) first);
          for (int n; (n = in.read(buffer)) > 0; ) {
            // Request lines are ASCII; blob bytes never hold this pattern (random data, 2^-64 per offset).
            String text = tail + new String(buffer, 0, n, StandardCharsets.ISO_8859_1);
            Matcher commit = BLOB_COMMIT.matcher(text);
            while (commit.find()) {
              if (armed.get() && commits.incrementAndGet() == KILL_AT_COMMIT) {
                registry.kill();
                killed = true;
                badGateway(client);
                return;
              }
            }
            tail = text.substring(Math.max(0, text.length() - 200));
            out.write(buffer, 0, n);
          }
        }
      } catch (IOException ignored) {
        // a side closed: the connection ends
      }
    }

    private static final Pattern BLOB_COMMIT = Pattern.compile("PUT /v2/\\S+/blobs/uploads/\\S*digest=");

    private static void badGateway(Socket client) throws IOException {
      client.getOutputStream().write(
          "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().flush();
    }

    private static void pipe(Socket from, Socket to) {
      try {
        from.getInputStream().transferTo(to.getOutputStream());
      } catch (IOException ignored) {
        // closed
      } finally {
        try {
          to.shutdownOutput();
        } catch (IOException ignored) {
          // already closed
        }
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
      threads.shutdownNow();
    }
  }
}
