package io.pose.trainer.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.PositionSampler;
import io.pose.core.sampling.Sample;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.Documents;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.SafetensorsWriter;
import io.pose.trainer.io.TensorData;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.ZeroModel;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.StepResult;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingPlan;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The Java trainer's optimizer step against PyTorch eager with transformers, on CPU with the same thread count: the
 * same model (a random Llama written once, loaded by both), the same ids and PoSE position ids, the same step
 * (forward with the causal LM loss, backward, clipping at 1.0, AdamW), fp32. Each measurement runs in a process of
 * its own so that its peak resident memory is its own. Prints a Markdown table and writes it into
 * docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@trainer-benchmark [-Dbench.python=PYTHON]</pre>
 *
 * <p>PYTHON needs torch and transformers (default: python3); without them only the Java column is measured.
 */
public final class TrainerBenchmark {

  static final String BEGIN = "<!-- trainer-step:begin -->";
  static final String END = "<!-- trainer-step:end -->";
  static final ObjectMapper JSON = new ObjectMapper();

  /** A benchmark configuration: the model's shape and the batch. */
  record Setup(String name, int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab, boolean tied,
      int batch, int length, int warmup, int measured) {

    String configJson() {
      return """
          {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d, "intermediate_size": %d,
           "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
           "max_position_embeddings": %d, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": %s,
           "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
           "attention_bias": false, "mlp_bias": false}
          """.formatted(hidden, intermediate, layers, heads, kvHeads, vocab, length, tied);
    }
  }

  static final List<Setup> SETUPS = List.of(
      new Setup("tiny (2 layers, hidden 64)", 64, 176, 2, 4, 2, 512, false, 4, 128, 10, 100),
      new Setup("small (12 layers, hidden 768, ~100M)", 768, 2048, 12, 12, 4, 32000, true, 1, 512, 2, 8));

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--java-step")) {
      javaStep(Path.of(args[1]), Boolean.parseBoolean(args[2]));
      return;
    }
    String python = System.getProperty("bench.python", "python3");
    int threads = Runtime.getRuntime().availableProcessors();
    Path work = Files.createTempDirectory("pose-trainer-bench");
    StringBuilder rows = new StringBuilder();
    String torchVersion = null;
    for (Setup s : SETUPS) {
      Path dir = work.resolve(s.name().replaceAll("[^a-z0-9]+", "-"));
      long parameters = writeModel(s, dir);
      writeInputs(s, dir);
      Measured java = measureJava(dir, threads, false);
      Measured javaRecompute = measureJava(dir, threads, true);
      Measured torch = measurePython(python, dir, threads);
      if (torch != null) {
        torchVersion = torch.version();
      }
      long tokens = (long) s.batch() * s.length();
      rows.append(row(s, parameters, tokens, "Java (DJL 0.36, libtorch 2.7.1)", java, torch));
      rows.append(row(s, parameters, tokens, "Java, activation recomputation", javaRecompute, null));
      rows.append(torch == null ? String.format(Locale.ROOT, "| %s | %s | %d x %d | PyTorch eager | not measured (%s "
          + "lacks torch or transformers) | | | |%n", s.name(), human(parameters), s.batch(), s.length(), python)
          : row(s, parameters, tokens, "PyTorch eager " + torch.version() + ", transformers", torch, null));
    }
    String table = String.format(Locale.ROOT, """
        Command: `./mvnw -q -pl trainer-image test-compile exec:exec@trainer-benchmark -Dbench.python=%s`  \s
        Machine: %s  \s
        Date: %s

        fp32 on CPU, %d threads for both (intra-op; inter-op 1), random Llama weights, PoSE position ids (Lc = length,
        Lt = 4 x length), one optimizer step = forward with the causal LM loss, backward, clipping, AdamW. Median of
        the timed steps after warm-up; peak RSS of the whole process (JVM or Python interpreter included).

        | model | parameters | batch x length | trainer | median step | tokens/s | Java / PyTorch | peak RSS |
        |---|---:|---:|---|---:|---:|---:|---:|
        %s""", python, machine(), LocalDate.now(), threads, rows);
    System.out.println(table);
    write(table);
  }

  record Measured(double medianSeconds, long peakRssBytes, String version) {}

  static String row(Setup s, long parameters, long tokens, String trainer, Measured m, Measured torch) {
    String ratio = torch == null ? "" : String.format(Locale.ROOT, "%.2fx", m.medianSeconds() / torch.medianSeconds());
    return String.format(Locale.ROOT, "| %s | %s | %d x %d | %s | %.3f s | %.0f | %s | %d MiB |%n", s.name(),
        human(parameters), s.batch(), s.length(), trainer, m.medianSeconds(), tokens / m.medianSeconds(), ratio,
        m.peakRssBytes() >> 20);
  }

  /** Writes config.json and random fp32 weights (normal, std 0.02; norms 1), as transformers initializes Llama. */
  static long writeModel(Setup s, Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), s.configJson());
    return writeRandomWeights(HfConfigs.read(dir.resolve("config.json")), dir.resolve(Checkpoint.SINGLE_FILE), 7);
  }

  /**
   * Random fp32 weights as transformers initializes a Llama (normal, std 0.02; norms 1), from a seed, in the order of
   * the expected tensor names; returns the parameter count.
   */
  public static long writeRandomWeights(ModelConfig config, Path file, long seed) throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    List<TensorData> tensors = new ArrayList<>();
    long parameters = 0;
    for (Map.Entry<String, long[]> e : DecoderWeights.expectedShapes(config).entrySet()) {
      long[] shape = e.getValue();
      float[] values = new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      boolean norm = e.getKey().endsWith("norm.weight");
      for (int i = 0; i < values.length; i++) {
        values[i] = norm ? 1f : (float) (nextGaussian(random) * 0.02);
      }
      parameters += values.length;
      tensors.add(TensorData.f32(e.getKey(), shape, values));
    }
    SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    return parameters;
  }

  private static double nextGaussian(SplittableRandom r) {
    double u = r.nextDouble();
    double v = r.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
  }

  /** The batches both sides train on: random token documents, PoSE samples (inputs.json). */
  static void writeInputs(Setup s, Path dir) throws IOException {
    writeInputs(dir, s.name(), randomDocuments(s), Samplers.official(s.length(), 4 * s.length()), s.batch(),
        s.warmup(), s.measured());
  }

  /**
   * The batches of a measurement (inputs.json): warm-up and measured steps of `batch` samples each, drawn by the
   * sampler from the documents; every sample has the sampler's training window in tokens.
   */
  static void writeInputs(Path dir, String name, Documents docs, PositionSampler sampler, int batch, int warmup,
      int measured) throws IOException {
    int length = sampler.trainingWindow();
    SampleStream stream = new SampleStream(docs, sampler, 3, length);
    ObjectNode root = JSON.createObjectNode();
    root.put("setup", name);
    root.put("batch", batch);
    root.put("length", length);
    root.put("warmup", warmup);
    root.put("measured", measured);
    ArrayNode steps = root.putArray("steps");
    long index = 0;
    for (int step = 0; step < warmup + measured; step++) {
      ObjectNode st = steps.addObject();
      ArrayNode ids = st.putArray("ids");
      ArrayNode positions = st.putArray("positions");
      for (int b = 0; b < batch; b++) {
        Sample sample = stream.sample(index++);
        ArrayNode row = ids.addArray();
        Arrays.stream(sample.inputIds()).forEach(row::add);
        ArrayNode prow = positions.addArray();
        Arrays.stream(sample.positionIds()).forEach(prow::add);
      }
    }
    Files.writeString(dir.resolve("inputs.json"), JSON.writeValueAsString(root));
  }

  static Documents randomDocuments(Setup s) {
    int count = 64;
    int[][] docs = new int[count][];
    SplittableRandom r = new SplittableRandom(11);
    for (int d = 0; d < count; d++) {
      docs[d] = r.ints(s.length() * 2L, 3, s.vocab()).toArray();
    }
    return documents(docs, "random documents");
  }

  /** Token documents held in memory. */
  static Documents documents(int[][] docs, String description) {
    return Documents.of(docs, description);
  }

  static Measured measureJava(Path dir, int threads, boolean recompute) throws IOException, InterruptedException {
    Path out = dir.resolve(recompute ? "java-recompute.json" : "java.json");
    Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(javaBin.toString(), "-Xmx2g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.num_threads=" + threads, "-Dai.djl.pytorch.num_interop_threads=1",
        "-cp", System.getProperty("java.class.path"), TrainerBenchmark.class.getName(), "--java-step",
        dir.toString(), Boolean.toString(recompute));
    pb.environment().put("OPT_OUT_TRACKING", "true");
    pb.redirectErrorStream(true).redirectOutput(out.toFile());
    int code = pb.start().waitFor();
    List<String> lines = Files.readAllLines(out);
    if (code != 0) {
      throw new IllegalStateException("the Java measurement failed:\n" + String.join("\n", lines));
    }
    JsonNode r = JSON.readTree(lines.get(lines.size() - 1));
    return new Measured(median(r.get("stepSeconds")), r.get("peakRssBytes").asLong(), null);
  }

  /** In the child JVM: the real Trainer over the inputs, steps timed by the trainer itself. */
  static void javaStep(Path dir, boolean recompute) throws IOException {
    JsonNode inputs = JSON.readTree(dir.resolve("inputs.json").toFile());
    int batch = inputs.get("batch").asInt();
    int steps = inputs.get("steps").size();
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    List<int[]> ids = new ArrayList<>();
    List<int[]> positions = new ArrayList<>();
    for (JsonNode st : inputs.get("steps")) {
      for (int b = 0; b < batch; b++) {
        ids.add(ints(st.get("ids").get(b)));
        positions.add(ints(st.get("positions").get(b)));
      }
    }
    try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu()); Checkpoint c = Checkpoint.open(dir);
        ZeroModel weights = ZeroModel.load(config, 0, io.pose.trainer.dist.SingleRank.INSTANCE, m, recompute, c)) {
      // the samples in inputs.json, in order: sample i of the run is ids[i] at positions[i]
      int length = inputs.get("length").asInt();
      PositionSampler replay = new PositionSampler() {
        public Sample sample(long seed, long index, int[] document) {
          return new Sample(ids.get((int) index), positions.get((int) index), ids.get((int) index));
        }

        public int trainingWindow() {
          return length;
        }

        public int targetLength() {
          return 4 * length;
        }
      };
      Documents docs = randomDocuments(new Setup("", 0, 0, 0, 0, 0, config.vocabSize(), false, 0,
          inputs.get("length").asInt(), 0, 0));
      SampleStream stream = new SampleStream(docs, replay, 0, 1);
      TrainingPlan plan = new TrainingPlan(steps + 1, batch, batch, 1,
          new LearningRateSchedule(1e-5, 0, steps + 1, LrSchedule.CONSTANT), 0.9, 0.999, 1e-8, 0.0, 1.0, 1_000_000, 1,
          0, recompute);
      Trainer trainer = new Trainer(m, new Decoder(config, weights, ComputeType.FP32), weights, stream, plan,
          new CheckpointStore(dir.resolve("checkpoints")), "bench");
      List<StepResult> results = trainer.run(steps, r -> {
        if (Boolean.getBoolean("bench.verbose")) {
          System.err.printf("step %d: %.3f s, RSS %d MiB, peak %d MiB%n", r.step(), r.seconds(), rss("VmRSS:") >> 20,
              rss("VmHWM:") >> 20);
        }
      });
      int warmup = inputs.get("warmup").asInt();
      ObjectNode out = JSON.createObjectNode();
      ArrayNode seconds = out.putArray("stepSeconds");
      results.subList(warmup, results.size()).forEach(r -> seconds.add(r.seconds()));
      out.put("peakRssBytes", peakRss());
      System.out.println(JSON.writeValueAsString(out));
    }
  }

  static Measured measurePython(String python, Path dir, int threads) throws IOException, InterruptedException {
    Path script = repoRoot().resolve("tools/benchmarks/pytorch_train_step.py");
    Path out = dir.resolve("pytorch.json");
    ProcessBuilder pb = new ProcessBuilder(python, script.toString(), "--model", dir.toString(), "--inputs",
        dir.resolve("inputs.json").toString(), "--threads", Integer.toString(threads));
    pb.redirectErrorStream(false).redirectOutput(out.toFile()).redirectError(dir.resolve("pytorch.err").toFile());
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return null; // no such interpreter
    }
    if (p.waitFor() != 0) {
      System.err.println("PyTorch side not measured: " + Files.readString(dir.resolve("pytorch.err")).strip()
          .lines().reduce((a, b) -> b).orElse(""));
      return null;
    }
    JsonNode r = JSON.readTree(Files.readString(out, StandardCharsets.UTF_8).strip().lines().reduce((a, b) -> b)
        .orElseThrow());
    JsonNode all = r.get("stepSeconds");
    int warmup = JSON.readTree(dir.resolve("inputs.json").toFile()).get("warmup").asInt();
    ArrayNode timed = JSON.createArrayNode();
    for (int i = warmup; i < all.size(); i++) {
      timed.add(all.get(i));
    }
    return new Measured(median(timed), r.get("peakRssBytes").asLong(), r.get("torch").asText());
  }

  static double median(JsonNode values) {
    double[] v = new double[values.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = values.get(i).asDouble();
    }
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  static long peakRss() {
    return rss("VmHWM:");
  }

  /** A memory figure of /proc/self/status in bytes (VmRSS: now, VmHWM: peak), or -1 where there is none. */
  static long rss(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      return -1;
    }
    return -1;
  }

  static String human(long n) {
    return n >= 1_000_000 ? String.format(Locale.ROOT, "%.1fM", n / 1e6) : String.format(Locale.ROOT, "%.1fK", n / 1e3);
  }

  static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(cpu);
    } catch (IOException ignored) {
      // not Linux
    }
    long ram = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize() >> 30;
    return Runtime.getRuntime().availableProcessors() + " cores, " + cpu + ", " + ram + " GiB RAM, "
        + System.getProperty("os.name") + ", Java " + System.getProperty("java.version") + ", no GPU";
  }

  static Path repoRoot() {
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.exists(root.resolve("mvnw"))) {
      root = root.getParent();
    }
    return root;
  }

  static void write(String table) throws IOException {
    writeSection(BEGIN, END, "Trainer: one optimizer step, Java against PyTorch eager", "Written by "
        + "`trainer-image/src/test/java/io/pose/trainer/bench/TrainerBenchmark.java` (the PyTorch side is "
        + "`tools/benchmarks/pytorch_train_step.py`). Target: Java within 1.2x of PyTorch eager.", table);
  }

  /**
   * Replaces the section between the markers in docs/benchmarks.md with the table, or appends it under the heading
   * and introduction when the markers are not there yet.
   */
  static void writeSection(String begin, String end, String heading, String introduction, String table)
      throws IOException {
    Path file = repoRoot().resolve("docs/benchmarks.md");
    String doc = Files.readString(file);
    String section = begin + "\n" + table + end;
    int b = doc.indexOf(begin);
    int e = doc.indexOf(end);
    doc = b >= 0 && e > b ? doc.substring(0, b) + section + doc.substring(e + end.length())
        : doc + "\n## " + heading + "\n\n" + introduction + "\n\n" + section + "\n";
    Files.writeString(file, doc);
  }
}
