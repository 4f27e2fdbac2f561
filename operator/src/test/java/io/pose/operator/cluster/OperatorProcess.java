package io.pose.operator.cluster;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.OperatorHarness;
import io.pose.operator.helm.ChartRenderer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operator as production runs it: the packaged application (operator/target/quarkus-app, the operator
 * image's entrypoint and JVM flags), in a process of its own, with the environment the Helm chart's Deployment
 * gives it, authenticated as the chart's ServiceAccount (a TokenRequest token) and authorized by exactly the
 * chart's ClusterRoles or Roles. It can be killed (SIGKILL, like an OOM kill or a node loss) and started again.
 */
public final class OperatorProcess implements AutoCloseable {

  public static final String NAMESPACE = ChartRenderer.RELEASE_NAMESPACE;

  private final ControlPlane plane;
  private final Map<String, String> env;
  private final Path kubeconfig;
  private final Path log;
  private final int port;
  private Process process;

  private OperatorProcess(ControlPlane plane, Map<String, String> env, Path kubeconfig, Path log) {
    this.plane = plane;
    this.env = env;
    this.kubeconfig = kubeconfig;
    this.log = log;
    this.port = freePort();
  }

  /**
   * Installs the chart (its CRD, ServiceAccount and RBAC, rendered by helm with these values) into the control
   * plane, as `helm install` would, and returns the operator ready to start. The Deployment itself is not
   * applied (there are no nodes): its container's environment is what this process gets.
   */
  public static OperatorProcess install(ControlPlane plane, Map<String, String> values, String logName) {
    return install(plane, ChartRenderer.RELEASE_NAME, values, logName);
  }

  /** The same, as a helm release of this name (its ServiceAccount and roles are named after it). */
  public static OperatorProcess install(ControlPlane plane, String release, Map<String, String> values, String logName) {
    Path app = OperatorHarness.repoRoot().resolve("operator/target/quarkus-app/quarkus-run.jar");
    if (!Files.isRegularFile(app)) {
      throw new IllegalStateException(app + " is missing: the *IT tests run after `package` (./mvnw verify)");
    }
    List<HasMetadata> rendered = ChartRenderer.render(release, NAMESPACE, values, List.of());
    plane.namespace(NAMESPACE);
    try (KubernetesClient admin = plane.admin()) {
      installCrd(admin);
      for (HasMetadata o : rendered) {
        if (o instanceof Deployment || o instanceof Service || "ServiceMonitor".equals(o.getKind())) {
          continue;
        }
        if (o.getMetadata().getNamespace() != null) {
          plane.namespace(o.getMetadata().getNamespace());
        }
        admin.resource(o).serverSideApply();
      }
    }
    Deployment deployment = ChartRenderer.ofType(rendered, Deployment.class).get(0);
    String serviceAccount = deployment.getSpec().getTemplate().getSpec().getServiceAccountName();
    Map<String, String> env = new LinkedHashMap<>();
    for (EnvVar e : deployment.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()) {
      if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null
          && "metadata.namespace".equals(e.getValueFrom().getFieldRef().getFieldPath())) {
        env.put(e.getName(), NAMESPACE); // the downward API
      } else if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else {
        throw new IllegalStateException("the chart's env " + e.getName() + " needs a source the test cannot play");
      }
    }
    // the container's memory limit, which the JVM in the pod sees through its cgroup (MaxRAMPercentage applies to it)
    var limits = deployment.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getLimits();
    if (limits != null && limits.get("memory") != null) {
      env.put("JAVA_TOOL_OPTIONS", "-XX:MaxRAM=" + limits.get("memory").getNumericalAmount().longValue());
    }
    Path dir = OperatorHarness.repoRoot().resolve("operator/target/operator-process");
    Path kubeconfig = plane.kubeconfigWithToken(dir.resolve(logName + ".kubeconfig"), plane.token(NAMESPACE, serviceAccount));
    return new OperatorProcess(plane, env, kubeconfig, dir.resolve(logName + ".log"));
  }

  /** The committed CRD, as helm installs it from the chart's crds/ directory. */
  public static void installCrd(KubernetesClient admin) {
    Path crd = ChartRenderer.chartDir().resolve("crds/contextextensions.pose.io-v1.yml");
    try {
      admin.resource(Serialization.unmarshal(Files.readString(crd), CustomResourceDefinition.class)).serverSideApply();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    admin.apiextensions().v1().customResourceDefinitions().withName(ContextExtension.CRD_NAME)
        .waitUntilCondition(c -> c.getStatus() != null && c.getStatus().getConditions().stream()
            .anyMatch(x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())), 60, TimeUnit.SECONDS);
  }

  /** Starts the operator and waits until it reports ready (its informers synced). */
  public OperatorProcess start() {
    if (process != null && process.isAlive()) {
      return this;
    }
    String javaCommand = ProcessHandle.current().info().command().orElse("java");
    // the image's entrypoint (images' OperatorImage)
    List<String> command = new ArrayList<>(List.of(javaCommand, "-XX:MaxRAMPercentage=75", "-XX:TieredStopAtLevel=1",
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager", "-jar",
        OperatorHarness.repoRoot().resolve("operator/target/quarkus-app/quarkus-run.jar").toString()));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("KUBERNETES_") || k.startsWith("QUARKUS_") || k.startsWith("POSE_")
        || k.startsWith("JAVA_TOOL_OPTIONS") || k.startsWith("MAVEN_"));
    pb.environment().putAll(env);
    pb.environment().put("KUBECONFIG", kubeconfig.toString());
    pb.environment().put("QUARKUS_HTTP_HOST", "127.0.0.1");
    pb.environment().put("QUARKUS_HTTP_PORT", Integer.toString(port));
    try {
      Files.createDirectories(log.getParent());
      Files.writeString(log, "---- started " + Instant.now() + "\n", java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
      process = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    awaitReady(Duration.ofSeconds(90));
    return this;
  }

  private void awaitReady(Duration within) {
    Instant deadline = Instant.now().plus(within);
    while (Instant.now().isBefore(deadline)) {
      if (!process.isAlive()) {
        throw new IllegalStateException("the operator exited with " + process.exitValue() + "; see " + log);
      }
      try {
        if (http("/q/health/ready").statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      sleep(200);
    }
    throw new IllegalStateException("the operator was not ready within " + within + "; see " + log);
  }

  /** SIGKILL: no shutdown hook, no graceful stop, as an OOM kill or a lost node ends a pod. */
  public void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitFor();
    }
  }

  /** SIGTERM, as the kubelet stops a pod. */
  public void stop() {
    if (process != null) {
      process.destroy();
      waitFor();
    }
  }

  private void waitFor() {
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  public long pid() {
    return process.pid();
  }

  public HttpResponse<String> http(String path) throws IOException {
    try {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
          .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** The operator's Prometheus metrics (/q/metrics). */
  public String metrics() {
    try {
      return http("/q/metrics").body();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sum of a metric's samples whose labels contain every given label (name="value"). */
  public static double sample(String metrics, String name, String... labels) {
    double sum = 0;
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})?\\s+(\\S+)$").matcher(metrics);
    boolean found = false;
    while (m.find()) {
      String l = m.group(1) == null ? "" : m.group(1);
      boolean all = true;
      for (String want : labels) {
        all &= l.contains(want);
      }
      if (all) {
        sum += Double.parseDouble(m.group(2));
        found = true;
      }
    }
    return found ? sum : Double.NaN;
  }

  /** Runs a full garbage collection in the operator (jcmd GC.run, from the JDK running the tests). */
  public void gc() {
    Path jcmd = Path.of(ProcessHandle.current().info().command().orElseThrow()).resolveSibling("jcmd");
    try {
      Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid()), "GC.run").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("jcmd GC.run failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The operator's peak resident memory (VmHWM), in bytes. */
  public long peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return -1;
  }

  public Path log() {
    return log;
  }

  @Override
  public void close() {
    stop();
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
