package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.pose.images.TrainerImage.Flavour;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images as a user gets them: {@code pose-images build} (the release command) builds the cpu trainer image and
 * the operator image from what {@code ./mvnw package} left, on a JRE base made here from this machine's packages, and
 * pushes them to a real registry on loopback. Each is pulled back by digest, its layers unpacked into a root
 * filesystem and its entrypoint run there: {@code pose --version} and a complete {@code pose run} of the README's
 * embedded default (examples/tiny-pose.yaml) inside the trainer image; the operator's process starts and serves its health endpoints. The images' configs
 * and layer order are checked, and the Helm chart's image references resolve to what was pushed.
 */
class ImagesIT {
  static final Path ROOT = Path.of(System.getProperty("pose.root", "..")).toAbsolutePath().normalize();
  static final String VERSION = System.getProperty("pose.version", "0.1.0-SNAPSHOT");
  static final String REVISION = "0123456789abcdef0123456789abcdef01234567";
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path work;
  static LoopbackRegistry registry;
  static Rootfs.Isolation isolation;
  static Map<String, String> digests = new HashMap<>();
  static Images.Release release = new Images.Release(VERSION, REVISION, "https://github.com/pose-io/pose-operator");

  @BeforeAll
  static void build() throws Exception {
    isolation = Rootfs.isolation();
    System.out.println("ImagesIT: images run by " + isolation.description);
    registry = LoopbackRegistry.start(work.resolve("registry"));
    ImageBuilder builder = new ImageBuilder(ImagesCommand.defaultCache(),
        new ImageBuilder.Registries(true, Map.of()), System.out);
    ImagePlan basePlan = TestBaseImage.plan(ImagesCommand.defaultCache(), work);
    String base = builder.push(basePlan, basePlan.reference(registry.authority())).reference();

    Path output = work.resolve("pushed.json");
    int code = ImagesCommand.execute("build", "--root", ROOT.toString(), "--version", VERSION, "--registry",
        registry.authority(), "--images", "trainer-cpu,operator", "--base-cpu", base, "--base-operator", base,
        "--insecure", "--revision", REVISION, "--output", output.toString());
    assertThat(code).as("pose-images build").isZero();
    for (JsonNode pushed : JSON.readTree(output.toFile())) {
      String reference = pushed.path("reference").asText();
      digests.put(reference.substring(reference.indexOf('/') + 1), pushed.path("digest").asText());
    }
    assertThat(digests).containsOnlyKeys("pose-trainer:" + release.tag() + "-cpu",
        "pose-operator:" + release.tag());
  }

  @AfterAll
  static void stop() {
    if (registry != null) {
      registry.close();
    }
  }

  static String trainerDigest() {
    return digests.get("pose-trainer:" + release.tag() + "-cpu");
  }

  static String operatorDigest() {
    return digests.get("pose-operator:" + release.tag());
  }

  @Test
  void theTrainerImagesConfigIsTheContractsAndItsLayersGoFromRarelyToOftenChanged() throws Exception {
    LoopbackRegistry.Manifest byTag = registry.manifest("pose-trainer", release.tag() + "-cpu");
    assertThat(byTag.digest()).isEqualTo(trainerDigest());
    JsonNode config = LoopbackRegistry.JSON.readTree(registry.blob("pose-trainer", byTag.json().path("config")));
    JsonNode c = config.path("config");
    assertThat(c.path("User").asText()).isEqualTo("65532:65532");
    assertThat(strings(c.path("Entrypoint"))).startsWith("/opt/java/openjdk/bin/java").endsWith("-cp",
        "/opt/pose/app/*:/opt/pose/lib/*", "io.pose.trainer.cli.Pose");
    assertThat(c.path("Cmd").isMissingNode() || c.path("Cmd").isEmpty() || c.path("Cmd").isNull()).isTrue();
    assertThat(strings(c.path("Env"))).contains("PYTORCH_LIBRARY_PATH=/opt/pose/libtorch/lib",
        "PYTORCH_VERSION=2.7.1", "PYTORCH_FLAVOR=cpu", "DJL_OFFLINE=true", "OPT_OUT_TRACKING=true",
        "RUST_LIBRARY_PATH=/opt/pose/native/libtokenizers.so", "HOME=/home/pose",
        "LD_LIBRARY_PATH=/opt/java/openjdk/lib" /* the base's, kept */);
    JsonNode labels = c.path("Labels");
    assertThat(labels.path("org.opencontainers.image.source").asText()).isEqualTo(
        "https://github.com/pose-io/pose-operator");
    assertThat(labels.path("org.opencontainers.image.revision").asText()).isEqualTo(REVISION);
    assertThat(labels.path("org.opencontainers.image.version").asText()).isEqualTo(VERSION);
    assertThat(labels.path("org.opencontainers.image.licenses").asText()).isEqualTo("Apache-2.0 AND BSD-3-Clause");
    assertThat(config.path("architecture").asText()).isEqualTo("amd64");

    // the base's 3 layers, then home, libtorch, DJL's natives, the dependencies and the app, in that order
    List<List<String>> layers = layers("pose-trainer", byTag.json());
    assertThat(layers).hasSize(8);
    assertThat(layers.get(3)).containsExactly("home/pose/");
    assertThat(layers.get(4)).contains("opt/pose/libtorch/lib/libtorch_cpu.so", "opt/pose/libtorch/lib/libc10.so");
    assertThat(layers.get(5)).contains("opt/pose/libtorch/lib/libdjl_torch.so", "opt/pose/native/libtokenizers.so");
    assertThat(layers.get(6)).anyMatch(f -> f.matches("opt/pose/lib/pytorch-engine-.*\\.jar"))
        .noneMatch(f -> f.contains("pytorch-native-cpu")).noneMatch(f -> f.contains("pose-trainer"));
    assertThat(layers.get(7)).filteredOn(f -> f.endsWith(".jar")).allMatch(f -> f.matches(
        "opt/pose/app/pose-(api|core|trainer)-.*\\.jar")).hasSize(3);
  }

  @Test
  void poseRunsThePipelineInsideTheTrainerImage() throws Exception {
    Rootfs image = Rootfs.pull(registry, "pose-trainer", trainerDigest(), work.resolve("trainer-root"));
    Rootfs.Result version = image.run(isolation, List.of("--version"), work.resolve("version.log"), 120);
    assertThat(version.code()).as(version.output()).isZero();
    assertThat(version.output()).contains("pose " + VERSION).contains("PyTorch 2.7.1");

    // the README's embedded default, as a user would run it from a copy of the examples
    Path data = image.dir.resolve("data");
    copyTree(ROOT.resolve("examples/tiny"), data.resolve("examples/tiny"));
    Files.copy(ROOT.resolve("examples/tiny-pose.yaml"), data.resolve("examples/tiny-pose.yaml"));
    ownByImageUser(data);
    Rootfs.Result run = image.run(isolation, List.of("run", "-f", "/data/examples/tiny-pose.yaml", "--workspace",
        "/data/ws", "--progress", "none"), work.resolve("run.log"), 900);
    assertThat(run.code()).as(run.output()).isZero();
    assertThat(run.output()).contains("== fetch ==", "== train ==", "== eval ==", "== publish ==", "== summary ==")
        .contains("done: file:///data/.pose/published/tiny-pose").doesNotContain("SLF4J")
        .doesNotContain("Exception")
        .doesNotContain("ai.djl") /* logging configured once: DJL's start-up notes are left out */;
    Path published = data.resolve(".pose/published/tiny-pose");
    assertThat(published.resolve("model.safetensors")).isRegularFile();
    JsonNode results = JSON.readTree(published.resolve("eval/results.json").toFile());
    assertThat(results.path("passkeyAccuracyAtTarget").asDouble()).as("passkey at 512 inside the image")
        .isGreaterThanOrEqualTo(0.8);
    assertThat(data.resolve("ws/eval/passkey.png")).as("charts drawn with the image's fonts").isRegularFile();
    if (isolation == Rootfs.Isolation.CHROOT_AS_IMAGE_USER) {
      assertThat((Integer) Files.getAttribute(published.resolve("model.safetensors"), "unix:uid"))
          .as("written by the image's user").isEqualTo(65532);
    }
  }

  @Test
  void theOperatorImageStartsAndServesItsHealthEndpoints() throws Exception {
    LoopbackRegistry.Manifest byTag = registry.manifest("pose-operator", release.tag());
    assertThat(byTag.digest()).isEqualTo(operatorDigest());
    Rootfs image = Rootfs.pull(registry, "pose-operator", operatorDigest(), work.resolve("operator-root"));
    JsonNode c = image.config.path("config");
    assertThat(c.path("User").asText()).isEqualTo("65532:65532");
    assertThat(strings(c.path("Entrypoint"))).containsExactly("/opt/java/openjdk/bin/java", "-XX:MaxRAMPercentage=75",
        "-XX:TieredStopAtLevel=1", "-Djava.util.logging.manager=org.jboss.logmanager.LogManager", "-jar",
        "/deployments/quarkus-run.jar");
    assertThat(c.path("ExposedPorts").has("8080/tcp")).isTrue();
    assertThat(c.path("Labels").path("org.opencontainers.image.licenses").asText()).isEqualTo("Apache-2.0");
    List<List<String>> layers = layers("pose-operator", byTag.json());
    assertThat(layers).hasSize(6);
    assertThat(layers.get(3)).anyMatch(f -> f.startsWith("deployments/lib/main/io.quarkus."))
        .noneMatch(f -> f.contains("io.pose."));
    assertThat(layers.get(5)).contains("deployments/quarkus-run.jar")
        .anyMatch(f -> f.matches("deployments/lib/main/io\\.pose\\.pose-api-.*\\.jar"));

    KubernetesMockServer api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
        new KubernetesCrudDispatcher(), false);
    api.init();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path log = work.resolve("operator.log");
    Process operator = image.start(isolation, List.of(), Map.of(
        "KUBERNETES_MASTER", api.url("/"),
        "KUBERNETES_NAMESPACE", "pose-system",
        "POSE_OPERATOR_NAMESPACE", "pose-system",
        "POSE_OPERATOR_TRAINER_IMAGE", registry.authority() + "/pose-trainer:" + release.tag() + "-cpu",
        "QUARKUS_HTTP_PORT", String.valueOf(port)), log);
    try {
      HttpResponse<String> live = await(URI.create("http://127.0.0.1:" + port + "/q/health/live"), operator, log);
      assertThat(live.body()).contains("\"status\": \"UP\"");
      HttpResponse<String> ready = await(URI.create("http://127.0.0.1:" + port + "/q/health/ready"), operator, log);
      assertThat(ready.body()).as(Files.readString(log)).contains("\"status\": \"UP\"");
      assertThat(Files.readString(log)).contains("'contextextension' controller started")
          .doesNotContain("ERROR").doesNotContain("Build time property cannot be changed");
    } finally {
      Rootfs.kill(operator);
      api.destroy();
    }
  }

  @Test
  void theChartsDefaultsNameTheImagesOfItsAppVersionAndResolveToWhatWasPushed() throws Exception {
    JsonNode chart = new ObjectMapper(new YAMLFactory()).readTree(ROOT.resolve("helm/pose-operator/Chart.yaml")
        .toFile());
    assertThat(chart.path("appVersion").asText()).as("the chart's appVersion is the tag the build pushes")
        .isEqualTo(release.tag());

    // defaults: the operator and the cuda trainer at appVersion, as pose-images build names them
    JsonNode deployment = deployment(Map.of());
    assertThat(image(deployment)).isEqualTo("ghcr.io/pose-io/" + OperatorImage.NAME + ":" + release.tag());
    assertThat(trainerImage(deployment)).isEqualTo("ghcr.io/pose-io/" + TrainerImage.NAME + ":" + release.tag()
        + Flavour.CUDA.tagSuffix);

    // pointed at this registry (the cpu flavour, the one built here): each reference is what was pushed
    JsonNode here = deployment(Map.of("image.repository", registry.authority() + "/pose-operator",
        "trainerImage.repository", registry.authority() + "/pose-trainer",
        "trainerImage.tag", release.tag() + Flavour.CPU.tagSuffix));
    String operatorRef = image(here);
    String trainerRef = trainerImage(here);
    assertThat(registry.manifest("pose-operator", operatorRef.substring(operatorRef.lastIndexOf(':') + 1)).digest())
        .isEqualTo(operatorDigest());
    assertThat(registry.manifest("pose-trainer", trainerRef.substring(trainerRef.lastIndexOf(':') + 1)).digest())
        .isEqualTo(trainerDigest());
  }

  private static JsonNode deployment(Map<String, String> values) throws IOException {
    var command = new Helm(ROOT.resolve("helm/pose-operator")).template().withName("pose-operator")
        .withNamespace("pose-system").withKubeVersion("v1.33.0");
    for (Map.Entry<String, String> v : values.entrySet()) {
      command = command.set(v.getKey(), v.getValue());
    }
    String yaml = command.call();
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    for (String doc : yaml.split("(?m)^---[ \\t]*$")) {
      JsonNode node = mapper.readTree(doc);
      if (node != null && "Deployment".equals(node.path("kind").asText())) {
        return node;
      }
    }
    throw new AssertionError("the chart renders no Deployment:\n" + yaml);
  }

  private static String image(JsonNode deployment) {
    return deployment.path("spec").path("template").path("spec").path("containers").get(0).path("image").asText();
  }

  private static String trainerImage(JsonNode deployment) {
    for (JsonNode env : deployment.path("spec").path("template").path("spec").path("containers").get(0)
        .path("env")) {
      if (env.path("name").asText().equals("POSE_OPERATOR_TRAINER_IMAGE")) {
        return env.path("value").asText();
      }
    }
    throw new AssertionError("no POSE_OPERATOR_TRAINER_IMAGE in the operator's container");
  }

  private static HttpResponse<String> await(URI uri, Process process, Path log) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("the operator exited with " + process.exitValue() + ":\n" + Files.readString(log));
      }
      try {
        HttpResponse<String> r = LoopbackRegistry.HTTP.send(HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return r;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(250);
    }
    throw new AssertionError(uri + " did not answer 200 within 120 s:\n" + Files.readString(log));
  }

  /** Each layer's paths (as the tar names them, without ./), in the manifest's order. */
  private static List<List<String>> layers(String repository, JsonNode manifest) throws Exception {
    List<List<String>> out = new ArrayList<>();
    for (JsonNode layer : manifest.path("layers")) {
      List<String> names = new ArrayList<>();
      try (TarArchiveInputStream in = new TarArchiveInputStream(new GzipCompressorInputStream(
          new ByteArrayInputStream(registry.blob(repository, layer))))) {
        TarArchiveEntry e;
        while ((e = in.getNextEntry()) != null) {
          String name = e.getName().replaceFirst("^\\./", "").replaceFirst("^/+", "");
          // Jib writes each file's parent directories too; keep files and the directories that stand alone
          if (!e.isDirectory() || name.equals("home/pose/")) {
            names.add(name);
          }
        }
      }
      out.add(names);
    }
    return out;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }

  private static void ownByImageUser(Path dir) throws IOException {
    if (isolation != Rootfs.Isolation.CHROOT_AS_IMAGE_USER) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.toList()) {
        Files.setAttribute(p, "unix:uid", 65532, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", 65532, LinkOption.NOFOLLOW_LINKS);
      }
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
