package io.pose.operator.bench;

import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.OperatorHarness;
import io.pose.operator.cluster.ControlPlane;
import io.pose.operator.cluster.OperatorProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmark (a program, not a test): the 500-resource load of {@link OperatorScaleBenchmark}, against the real
 * control plane (tools/kube/cluster.sh) with the operator in its own process as the chart installs it (its
 * ServiceAccount, RBAC, environment and memory limit). The operator's heap is measured in that process (after a
 * full GC, through jcmd and its /q/metrics), apart from the load generator. Writes a table into docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl operator -am package -DskipTests &amp;&amp; ./mvnw -q -pl operator test-compile exec:java@scale-benchmark-real [-Dexec.args="500"]</pre>
 */
public final class RealClusterScaleBenchmark {

  private static final String BEGIN = "<!-- operator-scale-real:begin -->";
  private static final String END = "<!-- operator-scale-real:end -->";
  private static final String NAMESPACE = "scale";

  public static void main(String[] args) {
    try {
      run(args);
      System.exit(0);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
  }

  private static void run(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    ControlPlane plane = ControlPlane.shared();
    plane.namespace(NAMESPACE);
    String table;
    try (KubernetesClient admin = plane.admin();
        OperatorProcess operator = OperatorProcess.install(plane, Map.of(), "scale-benchmark")) {
      for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
        admin.secrets().inNamespace(NAMESPACE).resource(new SecretBuilder().withNewMetadata().withName(secret)
            .endMetadata().withStringData(Map.of("token", "t")).build()).createOr(e -> e.update());
      }
      operator.start();
      operator.gc();
      double heapIdle = heap(operator);
      Map<String, Long> cpuBefore = cpu(plane, operator);
      String operatorBefore = operator.metrics();
      String apiBefore = admin.raw("/metrics");
      double[] heapPeakSeen = {0};
      OperatorScaleBenchmark.Load load = OperatorScaleBenchmark.Load.run(admin, NAMESPACE, n, 250,
          () -> heapPeakSeen[0] = Math.max(heapPeakSeen[0], heap(operator)));
      Map<String, Long> cpuAfter = cpu(plane, operator);
      String operatorAfter = operator.metrics();
      String apiAfter = admin.raw("/metrics");
      Files.writeString(OperatorHarness.repoRoot().resolve("operator/target/scale-benchmark-operator-metrics.txt"),
          operatorAfter);
      StringBuilder cpu = new StringBuilder();
      cpuAfter.forEach((process, ticks) -> cpu.append(cpu.length() == 0 ? "" : ", ").append(process).append(' ')
          .append(String.format(Locale.ROOT, "%.1f s", (ticks - cpuBefore.get(process)) / 100.0)));
      operator.gc();
      double heapLive = heap(operator);
      table = table(n, load.ready(), load.createdSeconds(), load.readyAt(), heapIdle, heapLive, heapPeakSeen[0],
          operator.peakRss())
          + "\nCPU time used from the first create until the last ready (2 cores = 2 s per second): " + cpu + ".\n"
          + work(n, operatorBefore, operatorAfter, apiBefore, apiAfter);
      admin.resources(ContextExtension.class).inNamespace(NAMESPACE).delete();
    }
    System.out.println(table);
    write(table);
  }

  /**
   * What the load cost in reconciliations (JOSDK's counters in the operator's /q/metrics) and in writes the API
   * server served (its apiserver_request_total, every client: the operator, the load generator, the controller
   * manager), per resource.
   */
  static String work(int n, String operatorBefore, String operatorAfter, String apiBefore, String apiAfter) {
    StringBuilder b = new StringBuilder("\nWork per resource, from the first create until the last ready: ");
    List<String> parts = new ArrayList<>();
    // the operator's own counter, then JOSDK's (MicrometerMetricsV2), where exported
    for (String[] metric : new String[][] {
        {"reconciliations", "pose_reconciliations_total", "reconciliations_started_total"},
        {"events received", "events_received_total", "operator_sdk_events_received_total"}}) {
      for (String name : List.of(metric[1], metric[2])) {
        double before = OperatorProcess.sample(operatorBefore, name);
        double after = OperatorProcess.sample(operatorAfter, name);
        if (!Double.isNaN(after)) {
          parts.add(String.format(Locale.ROOT, "%.1f %s", (after - (Double.isNaN(before) ? 0 : before)) / n,
              metric[0]));
          break;
        }
      }
    }
    b.append(parts.isEmpty() ? "the operator exports no reconciliation counter" : String.join(", ", parts));
    Map<String, Double> writes = new java.util.TreeMap<>();
    Map<String, Double> before = apiRequests(apiBefore);
    apiRequests(apiAfter).forEach((key, v) -> {
      double d = v - before.getOrDefault(key, 0.0);
      if (d > 0) {
        writes.merge(key, d, Double::sum);
      }
    });
    double total = writes.values().stream().mapToDouble(Double::doubleValue).sum();
    b.append(String.format(Locale.ROOT, "; %.1f writes served by the API server (", total / n));
    b.append(writes.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue(), x.getValue()))
        .map(e -> String.format(Locale.ROOT, "%s %.2f", e.getKey(), e.getValue() / n))
        .collect(java.util.stream.Collectors.joining(", ")));
    return b.append(").\n").toString();
  }

  /** apiserver_request_total's write requests (POST, PUT, PATCH, APPLY, DELETE) by "VERB resource[/subresource]". */
  static Map<String, Double> apiRequests(String metrics) {
    Map<String, Double> out = new java.util.HashMap<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^apiserver_request_total\\{([^}]*)}\\s+(\\S+)$")
        .matcher(metrics);
    while (m.find()) {
      String verb = label(m.group(1), "verb");
      if (!List.of("POST", "PUT", "PATCH", "APPLY", "DELETE").contains(verb)) {
        continue;
      }
      String sub = label(m.group(1), "subresource");
      String key = verb + " " + label(m.group(1), "resource") + (sub.isEmpty() ? "" : "/" + sub);
      out.merge(key, Double.parseDouble(m.group(2)), Double::sum);
    }
    return out;
  }

  private static String label(String labels, String name) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:^|,)" + name + "=\"([^\"]*)\"").matcher(labels);
    return m.find() ? m.group(1) : "";
  }

  /** utime + stime, in clock ticks (1/100 s), of the operator and of each control plane process. */
  private static Map<String, Long> cpu(ControlPlane plane, OperatorProcess operator) throws IOException {
    Map<String, Long> out = new java.util.LinkedHashMap<>();
    out.put("operator", ticks(operator.pid()));
    for (String component : new String[] {"apiserver", "etcd", "controller-manager"}) {
      out.put(component.equals("apiserver") ? "kube-apiserver" : component.equals("etcd") ? "etcd"
          : "kube-controller-manager", ticks(Long.parseLong(Files.readString(plane.dir().resolve(component + ".pid")).strip())));
    }
    out.put("load generator (this JVM)", ticks(ProcessHandle.current().pid()));
    return out;
  }

  private static long ticks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of proc(5): utime, stime
  }

  private static double heap(OperatorProcess operator) {
    return OperatorProcess.sample(operator.metrics(), "jvm_memory_used_bytes", "area=\"heap\"");
  }

  private static String table(int n, int done, double createdSeconds, double[] t, double heapIdle, double heapLive,
      double heapPeak, long rss) {
    String machine = Runtime.getRuntime().availableProcessors() + " cores, " + OperatorScaleBenchmark.cpuModel() + ", "
        + OperatorScaleBenchmark.totalMemoryGib() + " GiB RAM, " + System.getProperty("os.name") + ", Java "
        + System.getProperty("java.version");
    StringBuilder sb = new StringBuilder();
    sb.append("Command: `./mvnw -q -pl operator test-compile exec:java@scale-benchmark-real -Dexec.args=\"").append(n)
        .append("\"` (after `./mvnw -q -pl operator -am package -DskipTests`)  \nMachine: ").append(machine)
        .append("; etcd, kube-apiserver and kube-controller-manager v1.34.4 on the same cores  \nDate: ")
        .append(LocalDate.now()).append("\n\n");
    sb.append("| resources | reconciled | all created after | first ready | median ready | p95 ready | last ready | "
        + "operator heap idle | operator heap live after | operator heap peak seen | operator peak RSS |\n");
    sb.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    sb.append(String.format(Locale.ROOT, "| %d | %d | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %d MiB | %d MiB | %d MiB | %d MiB |%n",
        n, done, createdSeconds, OperatorScaleBenchmark.pct(t, 0), OperatorScaleBenchmark.pct(t, 0.5),
        OperatorScaleBenchmark.pct(t, 0.95), OperatorScaleBenchmark.pct(t, 1.0), (long) heapIdle >> 20,
        (long) heapLive >> 20, (long) heapPeak >> 20, rss >> 20));
    sb.append("\n\"Ready\" = the resource has its Fetch Job and the condition Valid=True, measured from the first create "
        + "call (polled every 250 ms). The operator runs in its own JVM exactly as the chart configures it (its "
        + "ServiceAccount token and ClusterRole, its environment, MaxRAMPercentage=75 of the chart's 1 GiB memory "
        + "limit, the image's C1-only JIT); \"live after\" is its heap after a full GC (jcmd GC.run) once all resources are ready; \"peak seen\" "
        + "is the largest heap its /q/metrics reported while polling (garbage included). Goal: all ready in under 30 s, "
        + "heap under 256 MiB.\n");
    return sb.toString();
  }

  private static void write(String table) throws IOException {
    Path file = OperatorHarness.repoRoot().resolve("docs/benchmarks.md");
    String doc = Files.readString(file);
    String section = BEGIN + "\n" + table + END;
    int b = doc.indexOf(BEGIN);
    int e = doc.indexOf(END);
    doc = b >= 0 && e > b ? doc.substring(0, b) + section + doc.substring(e + END.length())
        : doc.replace("<!-- operator-scale:end -->", "<!-- operator-scale:end -->\n\n## Operator: 500 resources "
            + "against a real control plane\n\n" + section);
    Files.writeString(file, doc);
  }
}
