package io.pose.trainer.tinybase;

import ai.djl.ndarray.NDManager;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.Samplers;
import io.pose.trainer.bench.TrainerBenchmark;
import io.pose.trainer.data.Documents;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.data.TextTokenizer;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.SafetensorsWriter;
import io.pose.trainer.io.TensorData;
import io.pose.trainer.io.TensorSource;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.LearningRateSchedule;
import io.pose.trainer.train.StepResult;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingPlan;
import io.pose.trainer.train.ZeroModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Makes the tiny pretrained base model of examples/tiny: a 4-layer Llama (hidden 128, about 0.9M parameters) trained
 * from random weights by this project's trainer, at a 128-token window with plain RoPE, on a corpus this program
 * generates (sentences of a small grammar, and retrieval episodes in the passkey evaluation's format). Deterministic:
 * one seed, one intra-op thread; it writes config.json, tokenizer.json, model.safetensors and the loss curve.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@tiny-base [-Dtiny.args="--out DIR --steps N"]</pre>
 */
public final class TinyBase {

  static final int WINDOW = 128;
  static final int HIDDEN = 128;
  static final int LAYERS = 4;
  static final int HEADS = 4;
  static final int INTERMEDIATE = 384;
  static final int BATCH = 16;
  static final long SEED = 20_231_017;

  /** What one run is: where it writes, how many steps, the documents' mix. */
  record Options(Path out, int steps, int documents, double peakLearningRate, int warmup, int stopAfter) {
    /** The run that made examples/tiny/base-model. */
    static Options committed(Path out) {
      return new Options(out, 5000, 40_000, 2e-3, 200, 5000);
    }
  }

  public static void main(String[] args) throws Exception {
    Path out = Path.of("examples/tiny/base-model");
    int steps = 5000;
    boolean corporaOnly = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Path.of(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--corpora-only" -> corporaOnly = true;
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + " (--out DIR, --steps N, --corpora-only)");
      }
    }
    exampleCorpora(out.toAbsolutePath().getParent().resolve("corpus"), 600, 40);
    if (corporaOnly) {
      return;
    }
    Options committed = Options.committed(out);
    List<StepResult> curve = make(new Options(out, steps, committed.documents(), committed.peakLearningRate(),
        committed.warmup(), steps), new PrintWriter(System.out, true));
    System.out.printf(Locale.ROOT, "wrote %s: loss %.4f -> %.4f in %d steps%n", out, curve.get(0).loss(),
        curve.get(curve.size() - 1).loss(), curve.size());
  }

  /** Generates the corpus and the tokenizer, initializes and trains the model, and writes it to {@code o.out()}. */
  static List<StepResult> make(Options o, PrintWriter log) throws IOException {
    Files.createDirectories(o.out());
    Map<String, Integer> vocab = TinyTokenizer.vocabulary(TinyCorpus.words());
    TinyTokenizer.write(o.out().resolve("tokenizer.json"), vocab);
    Files.writeString(o.out().resolve("config.json"), config(vocab.size()));
    Files.writeString(o.out().resolve("generation_config.json"),
        "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n");
    ModelConfig config = HfConfigs.read(o.out().resolve("config.json"));
    Path init = Files.createTempDirectory("tiny-base-init");
    Files.copy(o.out().resolve("config.json"), init.resolve("config.json"));
    // transformers' Llama initialization: normal(0, 0.02) matrices, norms at 1; from the seed
    TrainerBenchmark.writeRandomWeights(config, init.resolve(Checkpoint.SINGLE_FILE), SEED);

    int[][] docs = pretrainingDocuments(o.out(), o.documents());
    log.printf(Locale.ROOT, "corpus: %d documents, %d tokens; vocabulary %d; %d steps of %d x %d tokens%n",
        docs.length, Arrays.stream(docs).mapToLong(d -> d.length).sum(), vocab.size(), o.steps(), BATCH, WINDOW);
    List<StepResult> curve = new ArrayList<>();
    Path checkpoints = Files.createTempDirectory("tiny-base-checkpoints");
    try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu()); Checkpoint c = Checkpoint.open(init);
        ZeroModel weights = ZeroModel.load(config, 0, SingleRank.INSTANCE, m, false, c)) {
      SampleStream stream = new SampleStream(Documents.of(docs, "the tiny base model's generated corpus"), Samplers.fullLength(WINDOW), SEED, WINDOW);
      TrainingPlan plan = new TrainingPlan(o.steps(), BATCH, BATCH, 1,
          new LearningRateSchedule(o.peakLearningRate(), o.warmup(), o.steps(), LrSchedule.COSINE), 0.9, 0.95, 1e-8,
          0.01, 1.0, o.steps(), 1, 0, false);
      CheckpointStore store = new CheckpointStore(checkpoints);
      Trainer trainer = new Trainer(m, new Decoder(config, weights, ComputeType.FP32), weights, stream, plan, store,
          "tiny-base");
      curve.addAll(trainer.run(o.stopAfter(), r -> {
        if (r.step() % 50 == 0 || r.step() == 1) {
          log.printf(Locale.ROOT, "step %d: loss %.4f, lr %.2e, %.3f s%n", r.step(), r.loss(), r.learningRate(),
              r.seconds());
        }
      }));
      if (o.stopAfter() == o.steps()) {
        CheckpointStore.Saved last = store.saved(o.steps());
        try (CheckpointStore.Stored stored = CheckpointStore.open(last)) {
          writeWeights(config, stored, o.out().resolve(Checkpoint.SINGLE_FILE));
        }
      }
    }
    for (Path temporary : List.of(init, checkpoints)) {
      try (java.util.stream.Stream<Path> files = Files.walk(temporary)) {
        for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(o.out().resolve("training-loss.tsv")))) {
      w.println("step\tloss\tlearning_rate");
      for (StepResult r : curve) {
        w.printf(Locale.ROOT, "%d\t%.6f\t%.6e%n", r.step(), r.loss(), r.learningRate());
      }
    }
    return curve;
  }

  /**
   * The corpora of the example next to the model, from other seeds than the pretraining corpus (held out): the PoSE
   * training data (documents like the pretraining ones: retrieval episodes that fit the window, then sentences) and
   * long documents of sentences and episodes for perplexity beyond the window.
   */
  static void exampleCorpora(Path dir, int trainDocuments, int heldOutDocuments) throws IOException {
    Files.createDirectories(dir);
    TinyCorpus train = new TinyCorpus(SEED + 1);
    List<String> lines = new ArrayList<>();
    for (int d = 0; d < trainDocuments; d++) {
      String text = train.document();
      lines.add(JSON.writeValueAsString(Map.of("text", text)));
    }
    Files.write(dir.resolve("train.jsonl"), lines);
    TinyCorpus heldOut = new TinyCorpus(SEED + 2);
    lines.clear();
    for (int d = 0; d < heldOutDocuments; d++) {
      StringBuilder text = new StringBuilder();
      while (text.length() < 6000) {
        text.append(heldOut.random.nextInt(3) == 0 ? heldOut.episode(heldOut.random.nextInt(3)) : heldOut.text(80))
            .append('\n');
      }
      lines.add(JSON.writeValueAsString(Map.of("text", text.toString().strip())));
    }
    Files.write(dir.resolve("held-out.jsonl"), lines);
  }

  static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  static String config(int vocab) {
    return """
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": %d,
          "intermediate_size": %d,
          "num_hidden_layers": %d,
          "num_attention_heads": %d,
          "num_key_value_heads": %d,
          "vocab_size": %d,
          "max_position_embeddings": %d,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "tie_word_embeddings": true,
          "hidden_act": "silu",
          "bos_token_id": 1,
          "eos_token_id": 2,
          "torch_dtype": "float32",
          "attention_bias": false,
          "mlp_bias": false
        }
        """.formatted(HIDDEN, INTERMEDIATE, LAYERS, HEADS, HEADS, vocab, WINDOW);
  }

  static void writeWeights(ModelConfig config, TensorSource source, Path file) throws IOException {
    List<TensorData> tensors = new ArrayList<>();
    for (Map.Entry<String, long[]> e : DecoderWeights.expectedShapes(config).entrySet()) {
      int count = (int) Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
      tensors.add(TensorData.f32(e.getKey(), e.getValue(), source.floats(e.getKey(), 0, count)));
    }
    SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
  }

  /**
   * The pretraining documents, tokenized: half begin with a retrieval episode of 0 to 2 filler groups (it fits in
   * the window, which truncates each document), then sentences; the others are sentences only.
   */
  static int[][] pretrainingDocuments(Path modelDir, int count) throws IOException {
    TinyCorpus corpus = new TinyCorpus(SEED);
    int[][] docs = new int[count][];
    try (TextTokenizer tokenizer = TextTokenizer.of(modelDir)) {
      for (int d = 0; d < count; d++) {
        String text = corpus.document();
        docs[d] = tokenizer.encode(text, false);
        for (int id : docs[d]) {
          if (id == 0) {
            throw new IllegalStateException("the tokenizer does not know a word of: " + text);
          }
        }
      }
    }
    return docs;
  }


}
