package io.pose.trainer.tinybase;

import io.pose.trainer.eval.LanguageModel;
import io.pose.trainer.eval.Passkey;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Passkey accuracy of a model directory by length, as `pose eval` measures it (same prompts, same rule). */
final class TinyEval {
  private TinyEval() {}

  record Accuracy(int length, int trials, int passed, double promptTokens) {
    double accuracy() {
      return (double) passed / trials;
    }
  }

  static Map<Integer, Accuracy> passkey(Path model, List<Integer> lengths, int trials, long seed) throws IOException {
    Map<Integer, Accuracy> out = new LinkedHashMap<>();
    try (LanguageModel lm = LanguageModel.load(model, ComputeType.FP32, LanguageModel.DEFAULT_BLOCK)) {
      for (int length : lengths) {
        int passed = 0;
        long tokens = 0;
        for (int t = 0; t < trials; t++) {
          Passkey.Prompt p = Passkey.trial(seed, Passkey.promptLength(length, lm.config().maxPositionEmbeddings()), t);
          int[] ids = lm.tokenizer().encode(p.text());
          tokens += ids.length;
          int[] answer = lm.greedy(ids, Passkey.MAX_NEW_TOKENS);
          if (Passkey.passes(lm.tokenizer().decode(answer, true), p.key())) {
            passed++;
          }
        }
        out.put(length, new Accuracy(length, trials, passed, (double) tokens / trials));
      }
    }
    return out;
  }

  public static void main(String[] args) throws IOException {
    Path model = Path.of(args[0]);
    int trials = args.length > 1 ? Integer.parseInt(args[1]) : 50;
    for (Accuracy a : passkey(model, List.of(64, 96, 128, 192, 256, 384, 512), trials, 0).values()) {
      System.out.printf(Locale.ROOT, "passkey %d: %d/%d = %.0f%% (prompts of %.0f tokens)%n", a.length(), a.passed(),
          a.trials(), 100 * a.accuracy(), a.promptTokens());
    }
  }
}
