package io.pose.trainer.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.data.Documents;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.Cuda;
import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.dist.NcclGroup;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.Ops;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.MemoryPlan;
import io.pose.trainer.train.StepResult;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingPlan;
import io.pose.trainer.train.ZeroModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The trainer on a GPU, checked in one run (tools/gpu/check.sh runs it on a machine with one NVIDIA GPU; CI runs
 * its CPU part, GpuCheckTest):
 *
 * <ol>
 *   <li>the four tiny models' logits, loss and weight gradients on the device against transformers' (the same
 *       reference vectors and tolerance as DecoderParityTest: 1e-4 relative);
 *   <li>bf16 training steps of a ~100M Llama (random weights) on one rank: tokens/s, model FLOPs utilization against
 *       the GPU's peak, and the memory the run took against the memory plan;
 *   <li>ZeRO-3 over two thread ranks sharing the device, against one rank (weights within 2e-5);
 *   <li>NCCL initialised at world size 1 and an all-reduce, all-gather and reduce-scatter through it;
 *   <li>the paper's Figure 3 on the device: step time and memory of PoSE and of full-length training at 2x to 16x
 *       the window (the cost curve).
 * </ol>
 *
 * Prints a Markdown table (and writes it to --out); exits 1 when a check fails.
 *
 * <pre>java ... io.pose.trainer.bench.GpuCheck --device gpu|cpu --models DIR [--out FILE] [--peak-tflops N] [--quick]
 *     [--part all|checks|cost]</pre>
 */
public final class GpuCheck {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One line of the report. */
  public record Row(String check, boolean ok, String result) {}

  /**
   * What to run.
   *
   * @param part "all", "checks" (every row but the cost curve) or "cost" (the engine and the cost curve: on a GPU in
   *     a process of its own, so that the memory libtorch's caching allocator holds is the curve's alone)
   */
  public record Options(boolean gpu, Path models, double peakTflops, boolean quick, String part) {
    public Options {
      if (!List.of("all", "checks", "cost").contains(part)) {
        throw new IllegalArgumentException("--part is all, checks or cost, not " + part);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    boolean gpu = true;
    Path models = Path.of("tiny-models");
    Path out = null;
    double peak = 0;
    boolean quick = false;
    String part = "all";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--device" -> gpu = args[++i].equals("gpu");
        case "--models" -> models = Path.of(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        case "--peak-tflops" -> peak = Double.parseDouble(args[++i]);
        case "--quick" -> quick = true;
        case "--part" -> part = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    List<Row> rows = run(new Options(gpu, models, peak, quick, part));
    String table = table(rows);
    System.out.println(table);
    if (out != null) {
      Files.writeString(out, table);
    }
    System.exit(rows.stream().allMatch(Row::ok) ? 0 : 1);
  }

  static String table(List<Row> rows) {
    StringBuilder b = new StringBuilder("| check | ok | result |\n|---|---|---|\n");
    for (Row r : rows) {
      b.append("| ").append(r.check()).append(" | ").append(r.ok() ? "yes" : "**no**").append(" | ")
          .append(r.result().replace("\n", " ")).append(" |\n");
    }
    return b.toString();
  }

  /** Runs every check; a failing check is a row, not an exception. */
  public static List<Row> run(Options o) {
    List<Row> rows = new ArrayList<>();
    Device device = o.gpu() ? Device.gpu(0) : Device.cpu();
    rows.add(attempt("engine", () -> {
      Engine e = Engine.getEngine("PyTorch");
      boolean ok = !o.gpu() || e.getGpuCount() > 0;
      return new Row("engine", ok, "libtorch " + e.getVersion() + ", CUDA " + e.hasCapability("CUDA") + ", "
          + e.getGpuCount() + " GPUs" + (o.gpu() ? ", " + Cuda.whyNoDevice() : ""));
    }));
    if (!rows.get(0).ok()) {
      return rows;
    }
    if (!o.part().equals("cost")) {
      for (String model : List.of("llama", "llama-gqa-tied", "llama-yarn", "mistral-swa")) {
        rows.add(attempt("parity " + model, () -> parity(o.models().resolve(model), device)));
      }
      rows.add(attempt("bf16 training", () -> throughput(device, o)));
      rows.add(attempt("ZeRO-3, 2 thread ranks", () -> zeroOnOneDevice(o.models().resolve("llama"), device)));
      rows.add(o.gpu() ? attempt("NCCL", GpuCheck::nccl) : new Row("NCCL", true, "not run: needs a GPU"));
    }
    if (!o.part().equals("checks")) {
      rows.add(attempt("cost: PoSE vs full-length", () -> costCurve(device, o)));
    }
    return rows;
  }

  private interface Check {
    Row run() throws Exception;
  }

  /** Runs a check; its row is printed at once, so that a log keeps the rows before a crash of the process. */
  private static Row attempt(String name, Check check) {
    Row row;
    try {
      row = check.run();
    } catch (Throwable e) {
      row = new Row(name, false, e.toString());
    }
    System.out.println("[row] " + row.check() + ": " + (row.ok() ? "ok" : "FAILED") + ": " + row.result());
    return row;
  }

  /** Logits, loss and gradients of a tiny model on the device against transformers (reference.json). */
  static Row parity(Path dir, Device device) throws IOException {
    JsonNode reference = JSON.readTree(dir.resolve("reference.json").toFile());
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    double worst = 0;
    for (String run : new String[] {"plain", "pose"}) {
      try (NDManager m = NDManager.newBaseManager(device); Checkpoint checkpoint = Checkpoint.open(dir)) {
        DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
        weights.all().values().forEach(w -> w.setRequiresGradient(true));
        Decoder decoder = new Decoder(config, weights);
        JsonNode expected = reference.get(run);
        JsonNode idRows = reference.get("ids");
        int batch = idRows.size();
        int length = idRows.get(0).size();
        long[] ids = new long[batch * length];
        int[][] positions = new int[batch][length];
        for (int b = 0; b < batch; b++) {
          for (int t = 0; t < length; t++) {
            ids[b * length + t] = idRows.get(b).get(t).asLong();
            positions[b][t] = expected.get("positions").get(b).get(t).asInt();
          }
        }
        NDArray idArray = m.create(ids, new Shape(batch, length));
        NDArray logits;
        NDArray loss;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          logits = decoder.forward(idArray, positions);
          loss = Ops.causalLmLossFused(logits, idArray);
          gc.backward(loss);
        }
        worst = Math.max(worst, deviation(logits.toFloatArray(), expected.get("logits")));
        double l = expected.get("loss").asDouble();
        worst = Math.max(worst, Math.abs(loss.getFloat() - l) / Math.abs(l));
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.get("gradients").fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> g = it.next();
          worst = Math.max(worst, deviation(weights.get(g.getKey()).getGradient().toFloatArray(),
              g.getValue().get("values")));
        }
      }
    }
    return new Row("parity " + dir.getFileName(), worst <= 1e-4, String.format(Locale.ROOT,
        "logits, loss and gradients (plain and PoSE positions) within %.1e of transformers (tolerance 1e-4)", worst));
  }

  /** The largest |a - e| / max(|e|, mean |e|), the measure of Tolerances.assertClose. */
  static double deviation(float[] actual, JsonNode expected) {
    double scale = 0;
    for (JsonNode v : expected) {
      scale += Math.abs(v.asDouble());
    }
    scale /= Math.max(1, expected.size());
    double worst = 0;
    for (int i = 0; i < actual.length; i++) {
      double e = expected.get(i).asDouble();
      worst = Math.max(worst, Math.abs(actual[i] - e) / Math.max(Math.abs(e), scale));
    }
    return actual.length == expected.size() ? worst : Double.POSITIVE_INFINITY;
  }

  /**
   * bf16 steps of a ~100M Llama (hidden 768, 12 layers, vocab 32000, tied) on one rank; on CPU a tiny one. Model
   * FLOPs per token: 6 N + 12 L h T (the PaLM appendix's count, attention included).
   */
  static Row throughput(Device device, Options o) throws IOException {
    boolean big = device.isGpu();
    TrainerBenchmark.Setup s = big
        ? new TrainerBenchmark.Setup("~100M", 768, 2048, 12, 12, 4, 32000, true, 8, 2048, 3, o.quick() ? 5 : 15)
        : new TrainerBenchmark.Setup("tiny", 64, 176, 2, 4, 2, 512, false, 4, 128, 2, o.quick() ? 4 : 10);
    Path dir = Files.createTempDirectory("pose-gpu-check");
    long parameters = TrainerBenchmark.writeModel(s, dir);
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    Documents docs = TrainerBenchmark.randomDocuments(s);
    SampleStream stream = new SampleStream(docs, Samplers.official(s.length(), 4 * s.length()), 3, s.length());
    int steps = s.warmup() + s.measured();
    TrainingPlan plan = constantPlan(steps, s.batch(), false);
    List<StepResult> results;
    long used = 0;
    try (NDManager m = NDManager.newBaseManager(device); Checkpoint c = Checkpoint.open(dir);
        ZeroModel model = ZeroModel.load(config, 0, SingleRank.INSTANCE, m, false, c)) {
      Trainer t = new Trainer(m, new Decoder(config, model, ComputeType.BF16), model, stream, plan,
          new CheckpointStore(dir.resolve("checkpoints")), "gpu-check");
      results = t.run(steps, r -> { });
      if (device.isGpu()) {
        long[] info = Cuda.memoryInfo();
        used = info[1] - info[0];
      }
    }
    List<StepResult> timed = results.subList(s.warmup(), results.size());
    double seconds = timed.stream().mapToDouble(StepResult::seconds).sum();
    double tokens = timed.stream().mapToLong(StepResult::tokens).sum();
    double perSecond = tokens / seconds;
    double flopsPerToken = 6.0 * parameters + 12.0 * s.layers() * s.hidden() * s.length();
    boolean finite = results.stream().allMatch(r -> Double.isFinite(r.loss()));
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%s Llama (%,d parameters), %d x %d tokens a "
        + "step, bf16 autocast: %.0f tokens/s (%.3f s a step), loss %.3f -> %.3f", s.name(), parameters, s.batch(),
        s.length(), perSecond, seconds / timed.size(), results.get(0).loss(), results.get(results.size() - 1).loss()));
    if (o.peakTflops() > 0) {
      b.append(String.format(Locale.ROOT, "; model FLOPs utilization %.1f%% of %.0f TFLOPS",
          100 * perSecond * flopsPerToken / (o.peakTflops() * 1e12), o.peakTflops()));
    }
    if (device.isGpu()) {
      MemoryPlan p = MemoryPlan.of(new MemoryPlan.Inputs(config, 1, 0, ComputeType.BF16, s.batch(), s.length(), false,
          true));
      b.append(String.format(Locale.ROOT, "; GPU memory in use %s, planned peak %s", MemoryPlan.gib(used),
          MemoryPlan.gib(p.total())));
    }
    return new Row("bf16 training", finite, b.toString());
  }

  /** One rank, one micro-batch a step, a constant learning rate of 1e-4, clipping at 1, no checkpoints. */
  static TrainingPlan constantPlan(int steps, int batch, boolean recompute) {
    return new TrainingPlan(steps, batch, batch, 1, new LearningRateSchedule(1e-4, 0, steps, LrSchedule.CONSTANT),
        0.9, 0.999, 1e-8, 0.0, 1.0, 1_000_000, 1, 0, recompute);
  }

  /** ZeRO-3 over two thread ranks on one device against one rank, 3 steps of the tiny Llama. */
  static Row zeroOnOneDevice(Path model, Device device) throws Exception {
    ModelConfig config = HfConfigs.read(model.resolve("config.json"));
    Map<String, float[]> one = zeroRun(config, model, device, 1, 0).get(0);
    List<Map<String, float[]>> two = zeroRun(config, model, device, 2, 3);
    double worst = 0;
    for (String name : one.keySet()) {
      float[] a = one.get(name);
      float[] b = two.get(0).get(name);
      float[] c = two.get(1).get(name);
      for (int i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i] - b[i]));
        if (b[i] != c[i]) {
          return new Row("ZeRO-3, 2 thread ranks", false, "the ranks differ at " + name + "[" + i + "]");
        }
      }
    }
    return new Row("ZeRO-3, 2 thread ranks", worst <= 2e-5, String.format(Locale.ROOT,
        "3 steps: weights within %.1e of one rank (tolerance 2e-5), both ranks identical", worst));
  }

  static List<Map<String, float[]>> zeroRun(ModelConfig config, Path modelDir, Device device, int ranks, int stage)
      throws Exception {
    InProcessGroup group = new InProcessGroup(ranks, Duration.ofMinutes(5));
    ExecutorService pool = Executors.newFixedThreadPool(ranks);
    Path checkpoints = Files.createTempDirectory("pose-gpu-zero");
    try {
      List<Future<Map<String, float[]>>> futures = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        Collective c = ranks == 1 ? SingleRank.INSTANCE : group.member(r);
        futures.add(pool.submit(() -> {
          SplittableRandom random = new SplittableRandom(5);
          int[][] docs = new int[32][];
          for (int d = 0; d < docs.length; d++) {
            int start = random.nextInt(128);
            docs[d] = new int[48];
            for (int i = 0; i < 48; i++) {
              docs[d][i] = (start + i) % 128;
            }
          }
          Documents documents = TrainerBenchmark.documents(docs, "counting documents");
          SampleStream stream = new SampleStream(documents, Samplers.official(16, 256), 5, 16);
          TrainingPlan plan = new TrainingPlan(3, 4, 1, ranks, new LearningRateSchedule(3e-3, 1, 3, LrSchedule.COSINE),
              0.9, 0.95, 1e-8, 0.01, 1.0, 1000, 1, 0, true);
          try (NDManager m = NDManager.newBaseManager(device); Checkpoint base = Checkpoint.open(modelDir);
              ZeroModel model = ZeroModel.load(config, stage, c, m, true, base)) {
            Trainer t = new Trainer(m, new Decoder(config, model, ComputeType.FP32), model, stream, plan,
                new CheckpointStore(checkpoints), "gpu-zero");
            t.run(3, x -> { });
            return model.gatherAll();
          } catch (Throwable e) {
            c.abort(e.toString());
            throw e;
          }
        }));
      }
      List<Map<String, float[]>> out = new ArrayList<>();
      for (Future<Map<String, float[]>> f : futures) {
        out.add(f.get());
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The paper's Figure 3 on the device: bf16 optimizer steps (activation recomputation on, as a long run would) of
   * the ~100M Llama, 2 samples a step, window 2048: training at the window and PoSE at 2x to 16x the window (samples
   * of 2048 tokens, positions drawn by the official rule), measured there and back (window, 2x .. 16x, 16x .. 2x,
   * window: a drift of the machine over the run falls on both ends alike; each point's time is the lower of its two
   * medians), then full-length training at the same targets (samples of the target's length), all in one process.
   * The memory is what the device holds after the point (cudaMemGetInfo): libtorch's caching allocator keeps the
   * blocks it took, so it is the largest peak so far, which for PoSE (every point the same shape) is PoSE's own. On
   * the CPU a tiny model at 1x, 2x and 4x, time only. Passes when every step's loss is finite and, on the GPU (a
   * benchmark run, never CI's), PoSE at the largest target costs at most 1.10x the window's step.
   */
  static Row costCurve(Device device, Options o) throws IOException {
    boolean big = device.isGpu();
    TrainerBenchmark.Setup s = big
        ? new TrainerBenchmark.Setup("~100M", 768, 2048, 12, 12, 4, 32000, true, 2, 2048, 2, o.quick() ? 3 : 8)
        : new TrainerBenchmark.Setup("tiny", 64, 176, 2, 4, 2, 512, false, 2, 64, 1, 2);
    List<Integer> factors = big ? List.of(1, 2, 4, 8, 16) : List.of(1, 2, 4);
    Path dir = Files.createTempDirectory("pose-gpu-cost");
    TrainerBenchmark.writeModel(s, dir);
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    int top = factors.get(factors.size() - 1);
    Documents docs = CostCurve.documents(s.vocab(), s.length() * top);
    List<String> order = new ArrayList<>();
    for (int f : factors) {
      order.add((f == 1 ? "window" : "pose") + " " + f + "x");
    }
    List<String> back = new ArrayList<>(order);
    java.util.Collections.reverse(back);
    order.addAll(back);
    for (int f : factors.subList(1, factors.size())) {
      order.add("full " + f + "x");
    }
    Map<String, Double> median = new java.util.LinkedHashMap<>();
    Map<String, String> held = new java.util.HashMap<>();
    Map<String, String> failed = new java.util.LinkedHashMap<>();
    boolean finite = true;
    long deadline = System.nanoTime() + Duration.ofSeconds(big ? 240 : 120).toNanos();
    for (String point : order) {
      String method = point.substring(0, point.indexOf(' '));
      int factor = Integer.parseInt(point.substring(point.indexOf(' ') + 1, point.length() - 1));
      int target = s.length() * factor;
      if (System.nanoTime() > deadline) {
        failed.putIfAbsent(point, "not run (time budget spent)");
        continue;
      }
      int sample = method.equals("full") ? target : s.length();
      var sampler = method.equals("pose") ? Samplers.official(s.length(), target) : Samplers.fullLength(target);
      SampleStream stream = new SampleStream(docs, sampler, 3, sample);
      int steps = s.warmup() + s.measured();
      TrainingPlan plan = constantPlan(steps, s.batch(), true);
      try (NDManager m = NDManager.newBaseManager(device); Checkpoint c = Checkpoint.open(dir);
          ZeroModel model = ZeroModel.load(config, 0, SingleRank.INSTANCE, m, false, c)) {
        Trainer t = new Trainer(m, new Decoder(config, model, ComputeType.BF16), model, stream, plan,
            new CheckpointStore(dir.resolve("checkpoints-" + method + factor)), "gpu-cost");
        List<StepResult> results = t.run(steps, r -> { });
        finite &= results.stream().allMatch(r -> Double.isFinite(r.loss()));
        double seconds = results.subList(s.warmup(), results.size()).stream().mapToDouble(StepResult::seconds)
            .sorted().skip(s.measured() / 2).findFirst().orElseThrow();
        median.merge(point, seconds, Math::min);
        if (big) {
          long[] info = Cuda.memoryInfo();
          held.put(point, MemoryPlan.gib(info[1] - info[0]));
        }
      } catch (RuntimeException e) {
        failed.putIfAbsent(point, "failed: " + e.getMessage());
        finite = false;
      }
    }
    double window = median.getOrDefault("window 1x", Double.NaN);
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%s Llama, %d samples a step, window %d, bf16, "
        + "recomputation; median step (vs the window%s) at each target:", s.name(), s.batch(), s.length(),
        big ? "; GPU memory held" : ""));
    for (String point : new java.util.LinkedHashSet<>(order)) {
      if (median.containsKey(point)) {
        b.append(String.format(Locale.ROOT, " %s %.3f s (%.2fx%s);", point, median.get(point),
            median.get(point) / window, big ? "; " + held.get(point) : ""));
      } else {
        b.append(' ').append(point).append(' ').append(failed.get(point)).append(';');
      }
    }
    double flat = median.getOrDefault("pose " + top + "x", Double.NaN) / window;
    b.append(String.format(Locale.ROOT, " PoSE at %dx over the window: %.2f (goal <= 1.05; checked <= 1.10)", top,
        flat));
    return new Row("cost: PoSE vs full-length", finite && (!big || flat <= 1.10), b.toString());
  }

  /** NCCL at world size 1: initialised, and its collectives leave a rank's data as it is. */
  static Row nccl() {
    try (NcclGroup g = NcclGroup.join(0, 1, 0, SingleRank.INSTANCE, Duration.ofMinutes(1));
        NDManager m = NDManager.newBaseManager(Device.gpu(0))) {
      float[] values = new float[1 << 20];
      for (int i = 0; i < values.length; i++) {
        values[i] = i % 1000 - 500;
      }
      NDArray t = m.create(values);
      g.allReduceSum(t);
      NDArray full = m.zeros(new Shape(values.length));
      g.allGather(t, full);
      NDArray shard = m.zeros(new Shape(values.length));
      g.reduceScatter(full, shard);
      float[] back = shard.toFloatArray();
      boolean same = java.util.Arrays.equals(back, values);
      return new Row("NCCL", same, "NCCL " + NcclGroup.version() + " initialised on GPU 0; all-reduce, all-gather, "
          + "reduce-scatter of 2^20 values at world size 1 " + (same ? "exact" : "CHANGED the data"));
    }
  }
}
