package io.pose.core.sampling;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.Locale;

/**
 * Benchmark (a program, not a test): the cost of sampling a global batch of 64 samples with Lc = 8192 and
 * Lt = 32768 (the Mistral 8k -> 32k run), per sampler. Prints a Markdown table and writes it into
 * docs/benchmarks.md. Target: well under a millisecond per sample.
 *
 * <pre>./mvnw -q -pl pose-core test-compile exec:java@sampling-benchmark</pre>
 */
public final class SamplingBenchmark {

  private static final String BEGIN = "<!-- sampling:begin -->";
  private static final String END = "<!-- sampling:end -->";
  private static final int LC = 8192;
  private static final int LT = 32768;
  private static final int BATCH = 64;
  private static final int BATCHES = 300;

  public static void main(String[] args) throws IOException {
    int[] document = new int[5 * LC];
    for (int i = 0; i < document.length; i++) {
      document[i] = i % 32000;
    }
    Object[][] samplers = {
        {"PoSE, official 2 chunks", Samplers.official(LC, LT)},
        {"PoSE, 3 chunks (general form)", Samplers.chunked(LC, LT, 3)},
        {"RandPos baseline", Samplers.randPos(LC, LT)},
        {"Full length baseline (Lt tokens)", Samplers.fullLength(LT)}};
    StringBuilder table = new StringBuilder();
    table.append("Command: `./mvnw -q -pl pose-core test-compile exec:java@sampling-benchmark`  \n")
        .append("Machine: ").append(machine()).append("  \nDate: ").append(LocalDate.now()).append("\n\n")
        .append("Lc = ").append(LC).append(", Lt = ").append(LT).append(", documents of ").append(5 * LC)
        .append(" tokens, batches of ").append(BATCH).append(" samples, ").append(BATCHES)
        .append(" timed batches after warm-up, one thread.\n\n")
        .append("| sampler | median per batch of 64 | median per sample | p95 per sample |\n")
        .append("|---|---:|---:|---:|\n");
    long sink = 0;
    for (Object[] s : samplers) {
      PositionSampler sampler = (PositionSampler) s[1];
      long index = 0;
      for (int w = 0; w < 200; w++) { // warm-up: let the JIT compile the sampler
        for (int b = 0; b < BATCH; b++) {
          sink += sampler.sample(7, index++, document).positionIds()[0];
        }
      }
      long[] perBatch = new long[BATCHES];
      for (int r = 0; r < BATCHES; r++) {
        long t0 = System.nanoTime();
        for (int b = 0; b < BATCH; b++) {
          sink += sampler.sample(7, index++, document).maxPosition();
        }
        perBatch[r] = System.nanoTime() - t0;
      }
      Arrays.sort(perBatch);
      double median = perBatch[BATCHES / 2] / 1e3;
      double p95 = perBatch[(int) (BATCHES * 0.95)] / 1e3;
      table.append(String.format(Locale.ROOT, "| %s | %.1f us | %.2f us | %.2f us |%n", s[0], median, median / BATCH,
          p95 / BATCH));
    }
    if (sink == 42) {
      System.out.println(); // keeps the results alive for the JIT
    }
    System.out.println(table);
    write(table.toString());
  }

  private static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(cpu);
    } catch (IOException ignored) {
      // not Linux: the core count and Java version still identify the machine roughly
    }
    long ram = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize() >> 30;
    return Runtime.getRuntime().availableProcessors() + " cores, " + cpu + ", " + ram + " GiB RAM, "
        + System.getProperty("os.name") + ", Java " + System.getProperty("java.version");
  }

  private static void write(String table) throws IOException {
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.exists(root.resolve("mvnw"))) {
      root = root.getParent();
    }
    Path file = root.resolve("docs/benchmarks.md");
    String doc = Files.readString(file);
    String section = BEGIN + "\n" + table + END;
    int b = doc.indexOf(BEGIN);
    int e = doc.indexOf(END);
    doc = b >= 0 && e > b ? doc.substring(0, b) + section + doc.substring(e + END.length())
        : doc + "\n## pose-core: sampling a batch of PoSE samples\n\n"
            + "Written by `pose-core/src/test/java/io/pose/core/sampling/SamplingBenchmark.java`.\n\n" + section + "\n";
    Files.writeString(file, doc);
  }
}
