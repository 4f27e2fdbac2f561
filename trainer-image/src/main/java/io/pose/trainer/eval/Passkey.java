package io.pose.trainer.eval;

import java.math.BigInteger;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passkey retrieval, the paper's protocol (dwzhu-pku/PoSE src/eval_passkey.py; REFERENCE.md section 4): a task
 * description, x copies of a filler sentence group, the line with the key, y more copies, the question; x + y is
 * (L - 32 - 26 - 11) div 25 for a prompt of about L tokens (the parts' token counts with the Llama tokenizer), x
 * uniform in 0..x + y, the key uniform in 1..50000. The model decodes greedily up to 10 tokens; the first run of
 * digits in their text must equal the key.
 *
 * <p>Keys and filler splits come from a seed: trial t at length L draws from its own stream
 * (seed, L, t), so a run is reproducible and the base model sees exactly the extended model's prompts.
 */
public final class Passkey {
  private Passkey() {}

  public static final String TASK = "There is an important info hidden inside a lot of irrelevant text. Find it and "
      + "memorize them. I will quiz you about the important information there.";
  public static final String FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and "
      + "back again.";
  public static final String QUESTION = "What is the pass key? The pass key is";
  /** Tokens the official script reckons for the task description, the key line and the question. */
  static final int TASK_TOKENS = 32;
  static final int KEY_LINE_TOKENS = 26;
  static final int QUESTION_TOKENS = 11;
  static final int FILLER_TOKENS = 25;
  public static final int MAX_KEY = 50_000;
  /** New tokens decoded per trial. */
  public static final int MAX_NEW_TOKENS = 10;
  /**
   * The official script measures a length equal to the model's max_position_embeddings with a prompt this much
   * shorter, leaving room for the answer inside the window.
   */
  public static final int MARGIN_AT_MAX_POSITION = 100;

  private static final Pattern DIGITS = Pattern.compile("\\d+");

  /** One trial's prompt. */
  public record Prompt(int length, int fillerBefore, int fillerAfter, int key, String text) {}

  /** Filler groups in a prompt for about length tokens. */
  public static int fillerGroups(int length) {
    return Math.max(0, Math.floorDiv(length - TASK_TOKENS - KEY_LINE_TOKENS - QUESTION_TOKENS, FILLER_TOKENS));
  }

  /** The prompt with the key after fillerBefore filler groups (string repetition, no separator, as the script). */
  public static Prompt prompt(int length, int fillerBefore, int key) {
    int total = fillerGroups(length);
    if (fillerBefore < 0 || fillerBefore > total) {
      throw new IllegalArgumentException("filler before the key must be in 0.." + total + ", not " + fillerBefore);
    }
    String keyLine = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
    String text = String.join("\n", TASK, FILLER.repeat(fillerBefore), keyLine, FILLER.repeat(total - fillerBefore),
        QUESTION);
    return new Prompt(length, fillerBefore, total - fillerBefore, key, text);
  }

  /** Trial t's prompt at this length, from the seed. */
  public static Prompt trial(long seed, int length, int trial) {
    SplittableRandom random = new SplittableRandom(mix(mix(seed, length), trial));
    int total = fillerGroups(length);
    int before = random.nextInt(total + 1);
    int key = 1 + random.nextInt(MAX_KEY);
    return prompt(length, before, key);
  }

  /**
   * The prompt length the official script uses for a requested length: the same, except a length equal to the
   * model's max_position_embeddings, which is measured {@link #MARGIN_AT_MAX_POSITION} tokens shorter.
   */
  public static int promptLength(int length, int maxPositionEmbeddings) {
    return length == maxPositionEmbeddings ? length - MARGIN_AT_MAX_POSITION : length;
  }

  /** Whether the answer's first run of digits is the key (as a number: leading zeros do not matter). */
  public static boolean passes(String answer, int key) {
    Matcher m = DIGITS.matcher(answer);
    return m.find() && new BigInteger(m.group()).equals(BigInteger.valueOf(key));
  }

  /** The first run of digits of an answer, or null. */
  public static String firstNumber(String answer) {
    Matcher m = DIGITS.matcher(answer);
    return m.find() ? m.group() : null;
  }

  private static long mix(long a, long b) {
    long z = a * 0x9E3779B97F4A7C15L + b;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
