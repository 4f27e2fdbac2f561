package io.pose.operator.bench;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Benchmark (a program, not a test): creates N ContextExtensions at once against the Fabric8 mock API
 * server and measures the time until every one has its Fetch Job and a Valid=True condition, and the heap.
 * Prints a Markdown table and writes it into docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl operator test-compile exec:java@scale-benchmark [-Dexec.args="500"]</pre>
 */
public final class OperatorScaleBenchmark {

  private static final String BEGIN = "<!-- operator-scale:begin -->";
  private static final String END = "<!-- operator-scale:end -->";

  public static void main(String[] args) {
    try {
      run(args);
      System.exit(0);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1); // the mock server's threads would otherwise keep the JVM (and Maven) alive
    }
  }

  private static void run(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
        new KubernetesCrudDispatcher(), false);
    server.init();
    String table;
    try (KubernetesClient client = server.createClient(); OperatorHarness k8s = new OperatorHarness(client)) {
      k8s.installCrd();
      for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token"}) {
        k8s.secret(secret);
      }
      long heapBefore = usedHeapAfterGc();
      k8s.start();
      Load load = Load.run(client, OperatorHarness.NAMESPACE, n, 100, () -> { });
      long heapAfter = usedHeapAfterGc();
      table = table(n, load.ready(), load.createdSeconds(), load.readyAt(), heapBefore, heapAfter);
    } finally {
      server.destroy();
    }
    System.out.println(table);
    write(table);
  }

  /**
   * Creates n copies of examples/mistral-32k.yaml at once (16 client threads) and polls until each has its Fetch Job
   * and Valid=True (or 10 minutes pass).
   *
   * @param readyAt seconds from the first create until each resource was seen ready, sorted
   */
  record Load(double createdSeconds, double[] readyAt) {

    int ready() {
      return readyAt.length;
    }

    static Load run(KubernetesClient client, String namespace, int n, long pollMillis, Runnable eachPoll)
        throws InterruptedException {
      ExecutorService pool = Executors.newFixedThreadPool(16);
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        String name = String.format(Locale.ROOT, "bench-%04d", i);
        pool.submit(() -> {
          ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
          cx.getMetadata().setName(name);
          cx.getMetadata().setNamespace(namespace);
          client.resource(cx).inNamespace(namespace).create();
        });
      }
      pool.shutdown();
      pool.awaitTermination(5, TimeUnit.MINUTES);
      double createdSeconds = (System.nanoTime() - t0) / 1e9;

      Map<String, Double> doneAt = new HashMap<>();
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
      while (doneAt.size() < n && System.nanoTime() < deadline) {
        double now = (System.nanoTime() - t0) / 1e9;
        var jobs = client.batch().v1().jobs().inNamespace(namespace).withLabel("pose.io/stage", Stage.FETCH.command())
            .list().getItems().stream().map(Job::getMetadata).map(m -> m.getName()).collect(Collectors.toSet());
        for (ContextExtension cx : client.resources(ContextExtension.class).inNamespace(namespace).list().getItems()) {
          String name = cx.getMetadata().getName();
          if (!doneAt.containsKey(name) && cx.getStatus() != null && cx.getStatus().isTrue("Valid")
              && jobs.contains(name + "-" + Stage.FETCH.command())) {
            doneAt.put(name, now);
          }
        }
        eachPoll.run();
        Thread.sleep(pollMillis);
      }
      return new Load(createdSeconds, doneAt.values().stream().mapToDouble(Double::doubleValue).sorted().toArray());
    }
  }

  private static String table(int n, int done, double createdSeconds, double[] t, long heapBefore, long heapAfter) {
    String machine = Runtime.getRuntime().availableProcessors() + " cores, " + cpuModel() + ", "
        + totalMemoryGib() + " GiB RAM, " + System.getProperty("os.name") + ", Java "
        + System.getProperty("java.version") + ", max heap " + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB";
    StringBuilder sb = new StringBuilder();
    sb.append("Command: `./mvnw -q -pl operator test-compile exec:java@scale-benchmark -Dexec.args=\"").append(n)
        .append("\"`  \nMachine: ").append(machine).append("  \nDate: ").append(LocalDate.now()).append("\n\n");
    sb.append("| resources | reconciled | all created after | first ready | median ready | p95 ready | last ready | "
        + "heap before operator | heap after (operator + mock server state) |\n");
    sb.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    sb.append(String.format(Locale.ROOT, "| %d | %d | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %d MiB | %d MiB |%n", n, done,
        createdSeconds, pct(t, 0), pct(t, 0.5), pct(t, 0.95), pct(t, 1.0), heapBefore >> 20, heapAfter >> 20));
    sb.append("\n\"Ready\" = the resource has its Fetch Job and the condition Valid=True, measured from the first create "
        + "call (polled every 100 ms). The operator, the mock API server and the load generator share one JVM, so the "
        + "heap figure is an upper bound for the operator.\n");
    return sb.toString();
  }

  static double pct(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[(int) Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))];
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  static long totalMemoryGib() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize() >> 30;
  }

  static String cpuModel() {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("unknown CPU");
    } catch (IOException e) {
      return "unknown CPU";
    }
  }

  /** Replaces the section between the markers in docs/benchmarks.md (appends it when absent). */
  private static void write(String table) throws IOException {
    Path file = OperatorHarness.repoRoot().resolve("docs/benchmarks.md");
    String doc = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n";
    String section = BEGIN + "\n" + table + END;
    int b = doc.indexOf(BEGIN);
    int e = doc.indexOf(END);
    doc = b >= 0 && e > b ? doc.substring(0, b) + section + doc.substring(e + END.length())
        : doc + "\n## Operator: 500 resources against the mock API server\n\n" + section + "\n";
    Files.writeString(file, doc);
  }
}
