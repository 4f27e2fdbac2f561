package io.pose.trainer.bench;

import io.pose.trainer.eval.LanguageModel;
import io.pose.trainer.eval.Passkey;
import io.pose.trainer.eval.Perplexity;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Evaluation throughput of the Java evaluator on CPU: sliding-window perplexity (tokens run through the model per
 * second, and scored tokens per second) and the time of one passkey trial (the prompt run in blocks over the
 * key/value cache, then 10 greedy steps) at several lengths, for the tiny and the ~100M random Llama of
 * {@link TrainerBenchmark}. Prints a Markdown table and writes it into docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@eval-benchmark</pre>
 */
public final class EvalBenchmark {

  static final String BEGIN = "<!-- eval-throughput:begin -->";
  static final String END = "<!-- eval-throughput:end -->";

  /** A configuration: the model, the perplexity windows, the passkey lengths and trials. */
  record Case(TrainerBenchmark.Setup model, int[] windows, int documentTokens, int documents, int[] passkeyLengths,
      int trials) {}

  static final List<Case> CASES = List.of(
      new Case(TrainerBenchmark.SETUPS.get(0), new int[] {256, 1024}, 4096, 2, new int[] {256, 1024, 4096}, 3),
      new Case(TrainerBenchmark.SETUPS.get(1), new int[] {512, 2048}, 4096, 1, new int[] {1024, 4096}, 2));

  public static void main(String[] args) throws Exception {
    Path work = Files.createTempDirectory("pose-eval-bench");
    int threads = Runtime.getRuntime().availableProcessors();
    StringBuilder rows = new StringBuilder();
    for (Case c : CASES) {
      TrainerBenchmark.Setup s = c.model();
      Path dir = work.resolve(s.name().replaceAll("[^a-z0-9]+", "-"));
      long parameters = TrainerBenchmark.writeModel(s, dir);
      // LanguageModel wants a tokenizer; the ids below are drawn directly, so any tokenizer.json serves
      Files.copy(Path.of("src/test/resources/tiny-models/llama/tokenizer.json"), dir.resolve("tokenizer.json"));
      SplittableRandom random = new SplittableRandom(11);
      List<int[]> documents = new ArrayList<>();
      for (int d = 0; d < c.documents(); d++) {
        documents.add(random.ints(c.documentTokens(), 3, s.vocab()).toArray());
      }
      try (LanguageModel model = LanguageModel.load(dir, ComputeType.FP32, LanguageModel.DEFAULT_BLOCK)) {
        model.score(documents.get(0), 1); // warm-up: libtorch's first calls
        for (int window : c.windows()) {
          int stride = window / 2;
          long[] forwardTokens = {0};
          long start = System.nanoTime();
          Perplexity.Result r = Perplexity.measure(model, documents, window, stride, false,
              w -> forwardTokens[0] += w.window().end() - w.window().begin() + 1);
          double seconds = (System.nanoTime() - start) / 1e9;
          rows.append(String.format(Locale.ROOT, "| %s | %s | perplexity, window %d, stride %d, %d x %d tokens | "
                  + "%.1f s | %.0f tokens/s through the model, %.0f scored tokens/s | %d MiB |%n", s.name(),
              TrainerBenchmark.human(parameters), window, stride, c.documents(), c.documentTokens(), seconds,
              forwardTokens[0] / seconds, r.tokens() / seconds, TrainerBenchmark.peakRss() >> 20));
        }
        for (int length : c.passkeyLengths()) {
          double total = 0;
          for (int t = 0; t < c.trials(); t++) {
            int[] prompt = random.ints(length, 3, s.vocab()).toArray();
            long start = System.nanoTime();
            model.greedy(prompt, Passkey.MAX_NEW_TOKENS);
            total += (System.nanoTime() - start) / 1e9;
          }
          rows.append(String.format(Locale.ROOT, "| %s | %s | passkey trial at %d tokens (prefill + %d greedy steps), "
                  + "%d trials | %.2f s per trial | %.0f prompt tokens/s | %d MiB |%n", s.name(),
              TrainerBenchmark.human(parameters), length, Passkey.MAX_NEW_TOKENS, c.trials(), total / c.trials(),
              length * c.trials() / total, TrainerBenchmark.peakRss() >> 20));
        }
      }
    }
    String table = String.format(Locale.ROOT, """
        Command: `./mvnw -q -pl trainer-image test-compile exec:exec@eval-benchmark`  \s
        Machine: %s  \s
        Date: %s

        fp32 on CPU, %d threads, random Llama weights and random token ids, blocks of %d tokens over the key/value
        cache. Perplexity follows the official sliding-window protocol (BOS + W - 1 tokens per window); a passkey trial
        is one prompt of the given length and 10 greedy decoding steps. Peak RSS of the whole process so far.

        | model | parameters | measurement | time | throughput | peak RSS |
        |---|---:|---|---:|---|---:|
        %s""", TrainerBenchmark.machine(), LocalDate.now(), threads, LanguageModel.DEFAULT_BLOCK, rows);
    System.out.println(table);
    write(table);
  }

  static void write(String table) throws IOException {
    TrainerBenchmark.writeSection(BEGIN, END, "Evaluation throughput",
        "Written by `trainer-image/src/test/java/io/pose/trainer/bench/EvalBenchmark.java`.", table);
  }
}
