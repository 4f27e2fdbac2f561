package io.pose.operator.cluster;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.pose.operator.OperatorHarness;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager), started once per
 * test JVM by tools/kube/cluster.sh from binaries that tools/kube/build.sh builds once per version. No nodes: the
 * tests play the kubelet ({@link Kubelet}).
 *
 * <p>Where the binaries cannot be built (no Go toolchain, no module proxy), every test that asks for the control
 * plane is skipped with the reason; with {@code POSE_REQUIRE_CONTROL_PLANE=1} (set by .ci/run) it fails instead.
 */
public final class ControlPlane {

  private static ControlPlane shared;
  private static String unavailable;

  private final Path dir;
  private final String url;
  private final String caData;

  private ControlPlane(Path dir, String url) throws IOException {
    this.dir = dir;
    this.url = url;
    this.caData = Base64.getEncoder().encodeToString(Files.readAllBytes(dir.resolve("pki/ca.crt")));
  }

  /** The shared control plane, started on first use; skips the calling test (with the reason) where it cannot run. */
  public static synchronized ControlPlane shared() {
    if (shared == null && unavailable == null) {
      try {
        shared = start(OperatorHarness.repoRoot().resolve("operator/target/control-plane"));
      } catch (Exception e) {
        unavailable = e.getMessage();
      }
    }
    if (shared == null) {
      String reason = "no real Kubernetes control plane: " + unavailable;
      if ("1".equals(System.getenv("POSE_REQUIRE_CONTROL_PLANE"))) {
        throw new IllegalStateException(reason + " (POSE_REQUIRE_CONTROL_PLANE=1 forbids skipping)");
      }
      Assumptions.abort(reason);
    }
    return shared;
  }

  private static ControlPlane start(Path dir) throws IOException, InterruptedException {
    Path tools = OperatorHarness.repoRoot().resolve("tools/kube");
    Path buildLog = Files.createDirectories(dir.getParent()).resolve("control-plane-build.log");
    // building takes minutes the first time (then it is cached); its output goes to a log
    Process build = new ProcessBuilder("bash", tools.resolve("build.sh").toString())
        .redirectErrorStream(true).redirectOutput(buildLog.toFile()).start();
    if (!build.waitFor(40, TimeUnit.MINUTES)) {
      build.destroyForcibly();
      throw new IOException("tools/kube/build.sh took over 40 minutes; see " + buildLog);
    }
    if (build.exitValue() != 0) {
      throw new IOException("tools/kube/build.sh failed (exit " + build.exitValue() + "): " + tail(buildLog));
    }
    if (Files.exists(dir.resolve("ports"))) { // a previous run's cluster: stop it, start afresh
      run(tools, "down", dir);
      deleteTree(dir);
    }
    String url = run(tools, "up", dir).strip();
    ControlPlane plane = new ControlPlane(dir, url.substring(url.lastIndexOf('\n') + 1));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        run(tools, "down", dir);
      } catch (IOException | InterruptedException e) {
        System.err.println("stopping the control plane: " + e.getMessage());
      }
    }, "control-plane-down"));
    return plane;
  }

  private static String run(Path tools, String command, Path dir, String... more) throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("bash", tools.resolve("cluster.sh").toString(), command, dir.toString()));
    args.addAll(List.of(more));
    Path out = Files.createTempFile("cluster", ".out");
    try {
      Process p = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("cluster.sh " + String.join(" ", args.subList(2, args.size())) + " failed: " + tail(out));
      }
      return Files.readString(out);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** https://127.0.0.1:PORT */
  public String url() {
    return url;
  }

  /** The directory holding the logs (etcd.log, apiserver.log, controller-manager.log), certificates and ports. */
  public Path dir() {
    return dir;
  }

  /** A client with cluster-admin rights (system:masters), as the person installing the operator has. */
  public KubernetesClient admin() {
    return new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(read(dir.resolve("admin.kubeconfig"))))
        .build();
  }

  /** A client that authenticates with a bearer token only, as a pod does with its projected token. */
  public KubernetesClient withToken(String token) {
    return new KubernetesClientBuilder().withConfig(tokenConfig(token)).build();
  }

  public Config tokenConfig(String token) {
    return new ConfigBuilder(Config.empty()).withMasterUrl(url).withCaCertData(caData).withOauthToken(token)
        .withRequestTimeout(30_000).build();
  }

  /** A kubeconfig holding only this token: what the operator process is given (the chart's ServiceAccount). */
  public Path kubeconfigWithToken(Path file, String token) {
    String yaml = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster: {server: "%s", certificate-authority-data: "%s"}
        users:
        - name: sa
          user: {token: "%s"}
        contexts:
        - name: test
          context: {cluster: test, user: sa}
        current-context: test
        """.formatted(url, caData, token);
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /** A token for a ServiceAccount through the TokenRequest API, signed by the API server's key. */
  public String token(String namespace, String serviceAccount) {
    try (KubernetesClient admin = admin()) {
      return admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount)
          .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(7200L).endSpec().build())
          .getStatus().getToken();
    }
  }

  /** Creates a namespace (or keeps the existing one). */
  public void namespace(String name) {
    try (KubernetesClient admin = admin()) {
      if (admin.namespaces().withName(name).get() == null) {
        admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
            .create();
      }
    }
  }

  /** Stops one component (etcd, apiserver, controller-manager); {@link #start} brings it back on the same port. */
  public void stop(String component) {
    try {
      run(OperatorHarness.repoRoot().resolve("tools/kube"), "stop", dir, component);
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  public void start(String component) {
    try {
      run(OperatorHarness.repoRoot().resolve("tools/kube"), "start", dir, component);
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The ports cluster.sh picked. */
  public Properties ports() {
    Properties p = new Properties();
    try (var in = Files.newBufferedReader(dir.resolve("ports"))) {
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
