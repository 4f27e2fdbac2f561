package io.pose.trainer.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Sliding-window perplexity, the official protocol (dwzhu-pku/PoSE src/eval_ppl.py compute_perplexity; REFERENCE.md
 * section 4): for a window length W, each window holds BOS and W - 1 document tokens; windows start every stride S
 * tokens, and each scores only the tokens no earlier window scored; the last window ends at the document's end.
 * Truncate mode scores one window per document, from its start. Perplexity = exp(total NLL / scored tokens) over
 * all documents together.
 *
 * <p>One quirk of the official code is kept, so that numbers compare: with a stride longer than W - 1, tokens
 * between windows are never scored, yet a window still counts {@code end - previous end} tokens, and its NLL is its
 * mean over the tokens it does score times that count.
 */
public final class Perplexity {
  private Perplexity() {}

  /** One window: document tokens [begin, end), of which the last {@code scored} are scored. */
  public record Window(int document, int begin, int end, int scored) {}

  /** A window's outcome: its negative log-likelihood summed over its scored tokens. */
  public record Scored(Window window, double nll) {}

  /** The result at one window length. */
  public record Result(int length, int documents, double totalNll, long tokens) {
    public double perplexity() {
      return Math.exp(totalNll / tokens);
    }
  }

  /** The windows of a document of n tokens. */
  public static List<Window> windows(int document, int n, int length, int stride, boolean truncate) {
    if (length < 2) {
      throw new IllegalArgumentException("a window holds BOS and at least one token: length >= 2, not " + length);
    }
    if (stride < 1) {
      throw new IllegalArgumentException("stride must be positive, not " + stride);
    }
    int tokens = length - 1;
    List<Window> out = new ArrayList<>();
    if (truncate) {
      n = Math.min(n, tokens);
      stride = tokens;
    }
    int previousEnd = 0;
    for (int begin = 0; begin < n; begin += stride) {
      int end = Math.min(begin + tokens, n);
      out.add(new Window(document, begin, end, end - previousEnd));
      previousEnd = end;
      if (end == n) {
        break;
      }
    }
    return out;
  }

  /**
   * Perplexity of the documents at one window length.
   *
   * @param each receives every window as it is scored (progress)
   */
  public static Result measure(LanguageModel model, List<int[]> documents, int length, int stride, boolean truncate,
      Consumer<Scored> each) {
    int bos = model.bosTokenId();
    double total = 0;
    long tokens = 0;
    for (int d = 0; d < documents.size(); d++) {
      int[] doc = documents.get(d);
      for (Window w : windows(d, doc.length, length, stride, truncate)) {
        int[] input = new int[w.end() - w.begin() + 1];
        input[0] = bos;
        System.arraycopy(doc, w.begin(), input, 1, w.end() - w.begin());
        // the window predicts at most its W - 1 document tokens (the official code's mean over them x the count)
        int predicted = Math.min(w.scored(), input.length - 1);
        double nll = -model.score(input, input.length - predicted).sum() / predicted * w.scored();
        total += nll;
        tokens += w.scored();
        each.accept(new Scored(w, nll));
      }
    }
    return new Result(length, documents.size(), total, tokens);
  }
}
