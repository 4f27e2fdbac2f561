package io.pose.trainer.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.pose.trainer.data.DataException;
import io.pose.trainer.data.TextRecords;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;

/**
 * Multiple-choice benchmarks scored by log-likelihood, as lm-evaluation-harness scores them (checked against it on
 * a tiny model by tools/reference/lm_eval_reference.py). Each question becomes one request per choice: a context
 * and a continuation, whose tokens' log-probabilities are summed; acc counts the questions whose gold choice has
 * the largest sum, acc_norm divides each sum by the choice's length in characters first.
 *
 * <p>Field layouts (the harness's task definitions of the datasets' own fields): hellaswag (Rowan/hellaswag:
 * activity_label, ctx_a, ctx_b, endings, label), arc_easy / arc_challenge (allenai/ai2_arc: question,
 * choices.text, choices.label, answerKey), piqa (goal, sol1, sol2, label), boolq (super_glue: passage, question,
 * label; or google/boolq's answer), winogrande (sentence with "_", option1, option2, answer; scored by partial
 * evaluation: the choice ends the context, the rest of the sentence is the continuation), and for any other task
 * name the generic layout: context, choices, gold (an index).
 *
 * <p>Few-shot examples come from the task's own file, drawn as the harness draws them when the few-shot pool is the
 * evaluated split: one CPython Random(1234) per task, consumed question by question in file order, each drawing
 * shots + 1 examples and dropping the question itself ({@link PythonRandom}). Given the same file, the prompts are
 * the harness's, example for example.
 */
public final class MultipleChoice {
  private MultipleChoice() {}

  /** The harness's separator between the prompt and a choice, and between few-shot examples. */
  static final String TARGET_DELIMITER = " ";
  static final String FEWSHOT_DELIMITER = "\n\n";
  /** The harness's default few-shot seed. */
  public static final long FEWSHOT_SEED = 1234;

  /** One log-likelihood request. */
  public record Request(String context, String continuation) {}

  /**
   * A question: its requests (one per choice), the gold index, the choice texts acc_norm divides by (null where
   * the task reports no acc_norm), and where it came from.
   */
  public record Question(List<Request> requests, int gold, List<String> choices, String origin) {}

  /** A task's outcome. */
  public record Outcome(int examples, double accuracy, Double accuracyNorm) {}

  /** A document as the task layout reads it, before the few-shot context is added. */
  record Doc(String text, List<String> choices, int gold, String target, boolean partial, boolean norm,
      String origin) {
    /** The prompt of this doc shown as a solved few-shot example. */
    String solved() {
      return partial ? choices.get(gold) + TARGET_DELIMITER + target : text + TARGET_DELIMITER + choices.get(gold);
    }

    /** Whether two docs are the same example (the harness compares the processed documents). */
    boolean sameAs(Doc other) {
      return java.util.Objects.equals(text, other.text) && choices.equals(other.choices) && gold == other.gold
          && java.util.Objects.equals(target, other.target);
    }

    Question question(String fewshot) {
      List<Request> requests = new ArrayList<>();
      for (String choice : choices) {
        requests.add(partial ? new Request(fewshot + choice, TARGET_DELIMITER + target)
            : new Request(fewshot + text, TARGET_DELIMITER + choice));
      }
      return new Question(requests, gold, norm ? choices : null, origin);
    }
  }

  /**
   * Reads a task's records (JSON-lines or Parquet files) into questions with shots solved examples before each.
   *
   * @throws DataException for a record without the layout's fields, naming the file, line and field
   */
  public static List<Question> load(String task, Path source, int shots) throws IOException {
    List<TextRecords.Record> records = TextRecords.jsonl(source);
    if (records.isEmpty()) {
      throw new DataException(source + ": no examples");
    }
    List<Doc> docs = new ArrayList<>();
    for (TextRecords.Record r : records) {
      docs.add(doc(task, r));
    }
    if (shots > 0 && docs.size() <= shots) {
      throw new DataException(source + ": " + shots + "-shot prompts need more than " + shots + " examples, the file has "
          + docs.size());
    }
    List<String> prefixes = fewshot(docs, shots);
    List<Question> questions = new ArrayList<>();
    for (int i = 0; i < docs.size(); i++) {
      questions.add(docs.get(i).question(prefixes.get(i)));
    }
    return questions;
  }

  /**
   * Every question's few-shot prefix: shots solved examples each followed by the few-shot delimiter, drawn as the
   * harness's ContextSampler draws them (one generator for the task, questions in order; shots + 1 drawn, any equal
   * to the question dropped, the first shots kept; drawn again from the pool without the question if too few remain).
   */
  static List<String> fewshot(List<Doc> docs, int shots) {
    List<String> out = new ArrayList<>();
    PythonRandom random = new PythonRandom(FEWSHOT_SEED);
    for (Doc doc : docs) {
      if (shots == 0) {
        out.add("");
        continue;
      }
      List<Doc> picked = new ArrayList<>(random.sample(docs, shots + 1).stream().filter(d -> !d.sameAs(doc)).toList());
      if (picked.size() > shots) {
        picked = picked.subList(0, shots);
      }
      if (picked.size() < shots) {
        picked = random.sample(docs.stream().filter(d -> !d.sameAs(doc)).toList(), shots);
      }
      StringBuilder b = new StringBuilder();
      for (Doc d : picked) {
        b.append(d.solved()).append(FEWSHOT_DELIMITER);
      }
      out.add(b.toString());
    }
    return out;
  }

  static Doc doc(String task, TextRecords.Record r) {
    JsonNode v = r.value();
    String o = r.origin();
    return switch (task.toLowerCase(Locale.ROOT)) {
      case "hellaswag" -> {
        String ctx = text(v, "ctx_a", o) + " " + capitalize(text(v, "ctx_b", o));
        List<String> endings = new ArrayList<>();
        for (JsonNode e : array(v, "endings", o)) {
          endings.add(hellaswagPreprocess(e.asText()));
        }
        yield new Doc(hellaswagPreprocess(text(v, "activity_label", o) + ": " + ctx), endings,
            index(v, "label", endings.size(), o), null, false, true, o);
      }
      case "arc_easy", "arc_challenge" -> {
        JsonNode choices = field(v, "choices", o);
        List<String> texts = strings(array(choices, "text", o));
        List<String> labels = strings(array(choices, "label", o));
        String answer = text(v, "answerKey", o);
        int gold = labels.indexOf(answer);
        if (gold < 0 || texts.size() != labels.size()) {
          throw new DataException(o + ": answerKey \"" + answer + "\" is not one of choices.label " + labels);
        }
        yield new Doc("Question: " + text(v, "question", o) + "\nAnswer:", texts, gold, null, false, true, o);
      }
      case "piqa" -> new Doc("Question: " + text(v, "goal", o) + "\nAnswer:",
          List.of(text(v, "sol1", o), text(v, "sol2", o)), index(v, "label", 2, o), null, false, true, o);
      case "boolq" -> {
        int gold;
        if (v.has("label")) {
          gold = index(v, "label", 2, o);
        } else if (v.has("answer") && v.get("answer").isBoolean()) {
          gold = v.get("answer").asBoolean() ? 1 : 0;
        } else {
          throw new DataException(o + ": no field \"label\" (0 or 1) or \"answer\" (true or false)");
        }
        yield new Doc(text(v, "passage", o) + "\nQuestion: " + text(v, "question", o) + "?\nAnswer:",
            List.of("no", "yes"), gold, null, false, false, o);
      }
      case "winogrande" -> {
        String sentence = text(v, "sentence", o);
        int blank = sentence.indexOf('_');
        if (blank < 0) {
          throw new DataException(o + ": the sentence has no \"_\" to fill");
        }
        String answer = text(v, "answer", o);
        if (!answer.equals("1") && !answer.equals("2")) {
          throw new DataException(o + ": answer must be \"1\" or \"2\", not \"" + answer + "\"");
        }
        String before = sentence.substring(0, blank);
        yield new Doc(null, List.of(before + text(v, "option1", o), before + text(v, "option2", o)),
            Integer.parseInt(answer) - 1, sentence.substring(blank + 1).strip(), true, false, o);
      }
      default -> {
        List<String> choices = strings(array(v, "choices", o));
        yield new Doc(text(v, "context", o), choices, index(v, "gold", choices.size(), o), null, false, true, o);
      }
    };
  }

  private static final Pattern BRACKETS = Pattern.compile("\\[.*?\\]");

  /** The harness's hellaswag preprocess: strip, " [title]" to ". ", drop bracketed tags, double spaces to one. */
  static String hellaswagPreprocess(String text) {
    text = text.strip();
    text = text.replace(" [title]", ". ");
    text = BRACKETS.matcher(text).replaceAll("");
    return text.replace("  ", " ");
  }

  /** Python's str.capitalize: the first character upper case, the rest lower case. */
  static String capitalize(String s) {
    if (s.isEmpty()) {
      return s;
    }
    int first = s.codePointAt(0);
    int n = Character.charCount(first);
    return new String(Character.toChars(Character.toTitleCase(first))) + s.substring(n).toLowerCase(Locale.ROOT);
  }

  /**
   * Scores every question.
   *
   * @param each receives the number of questions done so far
   */
  public static Outcome evaluate(LanguageModel model, List<Question> questions, IntConsumer each) {
    int correct = 0;
    int correctNorm = 0;
    boolean norm = !questions.isEmpty() && questions.get(0).choices() != null;
    for (int q = 0; q < questions.size(); q++) {
      Question question = questions.get(q);
      double[] ll = new double[question.requests().size()];
      for (int i = 0; i < ll.length; i++) {
        ll[i] = loglikelihood(model, question.requests().get(i)).logLikelihood();
      }
      if (argmax(ll) == question.gold()) {
        correct++;
      }
      if (norm) {
        double[] normalized = new double[ll.length];
        for (int i = 0; i < ll.length; i++) {
          String c = question.choices().get(i);
          normalized[i] = ll[i] / c.codePointCount(0, c.length());
        }
        if (argmax(normalized) == question.gold()) {
          correctNorm++;
        }
      }
      each.accept(q + 1);
    }
    int n = questions.size();
    return new Outcome(n, (double) correct / n, norm ? (double) correctNorm / n : null);
  }

  public static Outcome evaluate(LanguageModel model, List<Question> questions) {
    return evaluate(model, questions, q -> { });
  }

  /** A request's log-likelihood, whether its continuation is the greedy one, and the token ids scored. */
  public record Loglikelihood(double logLikelihood, boolean greedy, int[] contextIds, int[] continuationIds) {}

  /**
   * The harness's rule (TemplateLM._encode_pair and loglikelihood, HFLM): trailing whitespace of the context moves to
   * the continuation; the continuation's tokens are those of context + continuation past the context's own tokens;
   * both are encoded with the tokenizer's own special tokens (its post-processor: BOS for Llama), unless the text
   * already starts with the BOS token's text; an empty context is the BOS id (EOS where there is none) unless the
   * continuation already starts with it; the sequence keeps its last max_position_embeddings + 1 tokens; the
   * continuation tokens' log-probabilities are summed.
   */
  public static Loglikelihood loglikelihood(LanguageModel model, Request request) {
    String context = request.context();
    String continuation = request.continuation();
    int[] contextIds;
    int[] continuationIds;
    if (context.isEmpty()) {
      int prefix = model.prefixTokenId();
      int[] cont = model.tokenizer().encode(continuation, false);
      if (cont.length > 0 && cont[0] == prefix) {
        contextIds = new int[] {cont[0]};
        continuationIds = java.util.Arrays.copyOfRange(cont, 1, cont.length);
      } else {
        contextIds = new int[] {prefix};
        continuationIds = cont;
      }
    } else {
      String stripped = stripTrailingWhitespace(context);
      if (stripped.length() < context.length()) {
        continuation = context.substring(stripped.length()) + continuation;
        context = stripped;
      }
      boolean special = !context.startsWith(model.tokenizer().decode(new int[] {model.prefixTokenId()}, false));
      int[] whole = model.tokenizer().encode(context + continuation, special);
      contextIds = model.tokenizer().encode(context, special);
      continuationIds = java.util.Arrays.copyOfRange(whole, Math.min(contextIds.length, whole.length), whole.length);
    }
    if (continuationIds.length > model.config().maxPositionEmbeddings()) {
      throw new DataException("the continuation \"" + abbreviate(request.continuation()) + "\" has "
          + continuationIds.length + " tokens, more than the model's window of " + model.config().maxPositionEmbeddings());
    }
    if (continuationIds.length == 0) {
      throw new DataException("the continuation \"" + request.continuation() + "\" adds no tokens to its context");
    }
    int[] all = new int[contextIds.length + continuationIds.length];
    System.arraycopy(contextIds, 0, all, 0, contextIds.length);
    System.arraycopy(continuationIds, 0, all, contextIds.length, continuationIds.length);
    int keep = Math.min(all.length, model.config().maxPositionEmbeddings() + 1);
    int[] sequence = java.util.Arrays.copyOfRange(all, all.length - keep, all.length);
    LanguageModel.Scores s = model.score(sequence, sequence.length - continuationIds.length);
    return new Loglikelihood(s.sum(), s.allGreedy(), contextIds, continuationIds);
  }

  /** Python's str.rstrip(): whitespace as Python's str.isspace counts it. */
  static String stripTrailingWhitespace(String s) {
    int end = s.length();
    while (end > 0) {
      char c = s.charAt(end - 1);
      if (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u001c' || c == '\u001d' || c == '\u001e'
          || c == '\u001f' || c == '\u0085') {
        end--;
      } else {
        break;
      }
    }
    return s.substring(0, end);
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 57) + "...";
  }

  private static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  private static JsonNode field(JsonNode v, String name, String origin) {
    JsonNode f = v.get(name);
    if (f == null || f.isNull()) {
      throw new DataException(origin + ": no field \"" + name + "\"");
    }
    return f;
  }

  private static String text(JsonNode v, String name, String origin) {
    JsonNode f = field(v, name, origin);
    if (!f.isValueNode()) {
      throw new DataException(origin + ": field \"" + name + "\" must be a string");
    }
    return f.asText();
  }

  private static JsonNode array(JsonNode v, String name, String origin) {
    JsonNode f = field(v, name, origin);
    if (!f.isArray() || f.isEmpty()) {
      throw new DataException(origin + ": field \"" + name + "\" must be a non-empty list");
    }
    return f;
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(e -> out.add(e.asText()));
    return out;
  }

  /** An index field (a number or a numeric string, as hellaswag's label) in 0..count-1. */
  private static int index(JsonNode v, String name, int count, String origin) {
    JsonNode f = field(v, name, origin);
    int i;
    try {
      i = f.isInt() ? f.intValue() : Integer.parseInt(f.asText().strip());
    } catch (NumberFormatException e) {
      throw new DataException(origin + ": field \"" + name + "\" must be an index, not \"" + f.asText() + "\"");
    }
    if (i < 0 || i >= count) {
      throw new DataException(origin + ": field \"" + name + "\" is " + i + ", not an index of the " + count
          + " choices");
    }
    return i;
  }
}
