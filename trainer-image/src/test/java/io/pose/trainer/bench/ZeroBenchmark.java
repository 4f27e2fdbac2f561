package io.pose.trainer.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.dist.SocketGroup;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.MemoryPlan;
import io.pose.trainer.train.StepResult;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingPlan;
import io.pose.trainer.train.ZeroModel;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * ZeRO on CPU ranks in separate processes (over TCP, as the nodes of a CPU run): each rank's measured peak memory
 * against the memory plan's prediction, and each stage's step time against ZeRO-0's at 2 and 4 ranks. The measured
 * figure is the growth of the process's peak resident memory from the moment the engine is loaded (before the
 * weights) to the end of the run: what the rank's weights, gradients, moments, buffers and activations took. Prints a
 * Markdown table and writes it into docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@zero-benchmark</pre>
 */
public final class ZeroBenchmark {

  static final String BEGIN = "<!-- zero:begin -->";
  static final String END = "<!-- zero:end -->";
  static final ObjectMapper JSON = new ObjectMapper();

  /** A ~42M Llama: model states (16 B a parameter, 0.67 GB) dominate the activations of 256-token samples. */
  static final TrainerBenchmark.Setup MODEL =
      new TrainerBenchmark.Setup("~42M", 512, 1376, 8, 8, 4, 16000, false, 4, 256, 1, 4);

  record Run(int world, int stage) {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--rank")) {
      rank(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Integer.parseInt(args[5]));
      return;
    }
    Path work = Files.createTempDirectory("pose-zero-bench");
    long parameters = TrainerBenchmark.writeModel(MODEL, work);
    ModelConfig config = HfConfigs.read(work.resolve("config.json"));
    List<Run> runs = new ArrayList<>(List.of(new Run(1, 0)));
    for (int world : new int[] {2, 4}) {
      for (int stage = 0; stage <= 3; stage++) {
        runs.add(new Run(world, stage));
      }
    }
    StringBuilder rows = new StringBuilder();
    double[] zero0 = new double[5];
    for (Run run : runs) {
      List<JsonNode> ranks = launch(work, run);
      double step = ranks.stream().mapToDouble(r -> r.get("medianStepSeconds").asDouble()).max().orElseThrow();
      long measured = ranks.stream().mapToLong(r -> r.get("peakGrowthBytes").asLong()).max().orElseThrow();
      if (run.stage() == 0) {
        zero0[run.world()] = step;
      }
      MemoryPlan plan = MemoryPlan.of(new MemoryPlan.Inputs(config, run.world(), run.stage(), ComputeType.FP32,
          MODEL.batch() / run.world(), MODEL.length(), true, false));
      rows.append(String.format(Locale.ROOT, "| %d | %d | %s | %s | %s | %+.0f%% | %.2f s | %s |%n", run.world(),
          run.stage(), MemoryPlan.gib(plan.modelStates()), MemoryPlan.gib(plan.total()), MemoryPlan.gib(measured),
          100.0 * (measured - plan.total()) / plan.total(), step,
          run.stage() == 0 ? "" : String.format(Locale.ROOT, "%.2fx", step / zero0[run.world()])));
    }
    String table = String.format(Locale.ROOT, """
        Command: `./mvnw -q -pl trainer-image test-compile exec:exec@zero-benchmark`  \s
        Machine: %s  \s
        Date: %s

        A %s-parameter Llama (hidden 512, 8 layers, vocabulary 16000), fp32, activation recomputation, global batch
        4 x 256 tokens a step; every rank a process of its own (1 intra-op thread), ranks over TCP on loopback. Memory:
        per rank, the plan's prediction (`pose plan`'s arithmetic, without the CUDA runtime) against the largest growth
        of a rank's peak resident memory from engine start to the end of 4 steps (weights, gradients, moments, buffers,
        activations; the CPU allocator's caching included). Step: median of the steps after the first, the slowest rank.

        | ranks | ZeRO | model states (plan) | peak (plan) | peak (measured) | measured vs plan | step | vs ZeRO-0 |
        |---:|---:|---:|---:|---:|---:|---:|---:|
        %s""", TrainerBenchmark.machine(), LocalDate.now(), String.format(Locale.ROOT, "%,d", parameters), rows);
    System.out.println(table);
    TrainerBenchmark.writeSection(BEGIN, END, "ZeRO on CPU ranks: memory against the plan, step time",
        "What each ZeRO stage saves per rank and costs per step, measured on CPU ranks in separate processes; the "
            + "GPU figures come from tools/gpu/check.sh.", table);
  }

  /** Runs the ranks of one configuration as processes and returns what each reported. */
  static List<JsonNode> launch(Path model, Run run) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<Process> processes = new ArrayList<>();
    List<Path> outputs = new ArrayList<>();
    for (int r = 0; r < run.world(); r++) {
      Path out = model.resolve("rank-" + r + "-of-" + run.world() + "-zero" + run.stage() + ".json");
      ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          // the whole heap resident from the start: the growth measured is native (tensor) memory
          "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
          "-cp", System.getProperty("java.class.path"), ZeroBenchmark.class.getName(), "--rank", model.toString(),
          Integer.toString(r), Integer.toString(run.world()), Integer.toString(run.stage()), Integer.toString(port));
      pb.environment().put("OPT_OUT_TRACKING", "true");
      pb.redirectErrorStream(true).redirectOutput(out.toFile());
      processes.add(pb.start());
      outputs.add(out);
    }
    List<JsonNode> out = new ArrayList<>();
    for (int r = 0; r < run.world(); r++) {
      if (processes.get(r).waitFor() != 0) {
        throw new IllegalStateException("rank " + r + " of " + run + " failed:\n" + Files.readString(outputs.get(r)));
      }
      List<String> lines = Files.readAllLines(outputs.get(r));
      out.add(JSON.readTree(lines.get(lines.size() - 1)));
    }
    return out;
  }

  /** In a rank's process: trains the configured steps and prints its step times and memory growth. */
  static void rank(Path dir, int rank, int world, int stage, int port) throws IOException {
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      m.zeros(new ai.djl.ndarray.types.Shape(1)).close(); // the engine is loaded: the baseline
      long baseline = TrainerBenchmark.rss("VmRSS:");
      Collective c = world == 1 ? SingleRank.INSTANCE : SocketGroup.join(rank, world,
          new SocketGroup.Rendezvous("127.0.0.1", port, "zero-bench", Duration.ofMinutes(2), Duration.ofMinutes(5)));
      SampleStream stream = new SampleStream(TrainerBenchmark.randomDocuments(MODEL),
          Samplers.official(MODEL.length(), 4 * MODEL.length()), 3, MODEL.length());
      int steps = MODEL.warmup() + MODEL.measured();
      // one step more than run: no checkpoint is written (its file buffers are not the training's memory)
      TrainingPlan plan = new TrainingPlan(steps + 1, MODEL.batch(), MODEL.batch() / world, world,
          new LearningRateSchedule(1e-4, 0, steps, LrSchedule.CONSTANT), 0.9, 0.999, 1e-8, 0.0, 1.0, 1_000_000, 1, 0,
          true);
      List<StepResult> results;
      try (ZeroModel model = load(config, stage, c, m, dir)) {
        // the checkpoint's mapped pages are gone once its buffers are collected; the peak starts from here
        System.gc();
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        Trainer t = new Trainer(m, new Decoder(config, model, ComputeType.FP32), model, stream, plan,
            new CheckpointStore(Files.createTempDirectory("pose-zero-bench-ckpt")), "zero-bench");
        results = t.run(steps, r -> { });
      } finally {
        c.close();
      }
      ObjectNode out = JSON.createObjectNode();
      ArrayNode seconds = out.putArray("stepSeconds");
      results.subList(MODEL.warmup(), results.size()).forEach(r -> seconds.add(r.seconds()));
      out.put("medianStepSeconds", TrainerBenchmark.median(seconds));
      out.put("peakGrowthBytes", TrainerBenchmark.peakRss() - baseline);
      System.out.println(JSON.writeValueAsString(out));
    }
  }

  private static ZeroModel load(ModelConfig config, int stage, Collective c, NDManager m, Path dir) throws IOException {
    try (Checkpoint base = Checkpoint.open(dir)) {
      return ZeroModel.load(config, stage, c, m, true, base);
    }
  }
}
