package io.pose.trainer.tinybase;

import io.pose.trainer.eval.Passkey;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The tiny base model's corpus, generated from a seed: natural-looking sentences from a small grammar, and retrieval
 * episodes in the passkey evaluation's own format (its task description, its filler sentences, its key line and its
 * question), answered. A word-level vocabulary keeps token counts close to the Llama tokenizer's, which the passkey
 * protocol's lengths assume (a filler group is 25 tokens with either).
 */
final class TinyCorpus {

  static final String[] NAMES = {"Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Henry", "Iris", "Jack",
      "Lily", "Max", "Nora", "Oscar", "Ruby", "Sam", "Tom", "Zoe"};
  static final String[] ANIMALS = {"cat", "dog", "bird", "fox", "horse", "rabbit", "mouse", "duck", "cow", "frog"};
  static final String[] THINGS = {"ball", "book", "box", "cake", "cup", "hat", "kite", "lamp", "letter", "map",
      "note", "boat", "key", "coin", "stone", "apple", "song", "story"};
  static final String[] PLACES = {"park", "garden", "river", "forest", "market", "school", "house", "hill", "lake",
      "village", "kitchen", "library", "beach", "farm"};
  static final String[] COLORS = {"red", "green", "blue", "yellow", "white", "black", "brown", "small", "big", "old",
      "new", "happy", "quiet", "bright"};
  static final String[] VERBS = {"found", "saw", "took", "liked", "painted", "carried", "opened", "lost", "made",
      "kept", "wanted", "read"};
  static final String[] MOVES = {"walked", "ran", "went", "came", "looked"};
  static final String[] TIMES = {"morning", "evening", "night", "spring", "summer", "winter", "day"};

  final SplittableRandom random;

  TinyCorpus(long seed) {
    this.random = new SplittableRandom(seed);
  }

  private String pick(String[] words) {
    return words[random.nextInt(words.length)];
  }

  /** One sentence of the grammar. */
  String sentence() {
    return switch (random.nextInt(8)) {
      case 0 -> "The " + pick(COLORS) + " " + pick(ANIMALS) + " " + pick(MOVES) + " to the " + pick(PLACES) + ".";
      case 1 -> pick(NAMES) + " " + pick(VERBS) + " a " + pick(COLORS) + " " + pick(THINGS) + " in the "
          + pick(PLACES) + ".";
      case 2 -> "In the " + pick(TIMES) + ", " + pick(NAMES) + " and " + pick(NAMES) + " " + pick(MOVES) + " to the "
          + pick(PLACES) + ".";
      case 3 -> "The " + pick(THINGS) + " is " + pick(COLORS) + ".";
      case 4 -> pick(NAMES) + " has a " + pick(COLORS) + " " + pick(ANIMALS) + ".";
      case 5 -> "Where is the " + pick(THINGS) + "? It is in the " + pick(PLACES) + ".";
      case 6 -> "The " + pick(ANIMALS) + " " + pick(VERBS) + " the " + pick(THINGS) + " and " + pick(MOVES)
          + " home.";
      default -> "It was a " + pick(COLORS) + " " + pick(TIMES) + " at the " + pick(PLACES) + ".";
    };
  }

  /** Sentences until the text has at least {@code words} words. */
  String text(int words) {
    StringBuilder b = new StringBuilder();
    int count = 0;
    while (count < words) {
      String s = sentence();
      count += s.split(" ").length;
      b.append(b.isEmpty() ? "" : " ").append(s);
    }
    return b.toString();
  }

  /**
   * A number to remember and, a few sentences later, the question about it and its answer: copying over a distance,
   * like the pass key, in other words.
   */
  String memo() {
    String name = pick(NAMES);
    int number = key();
    return name + " wrote the number " + number + " in the " + pick(PLACES) + ". " + text(4 + random.nextInt(12))
        + " What did " + name + " write? " + name + " wrote " + number + ".";
  }

  /** A pretraining document: mostly a retrieval episode first, then sentences with memos. */
  String document() {
    int kind = random.nextInt(10);
    if (kind < 6) {
      return episode(random.nextInt(3)) + "\n" + memo() + " " + text(40);
    }
    if (kind < 8) {
      return memo() + " " + text(10) + " " + memo() + " " + text(40);
    }
    return text(120);
  }

  /** A key as the evaluation draws them: uniform in 1..50000. */
  int key() {
    return 1 + random.nextInt(Passkey.MAX_KEY);
  }

  /**
   * A retrieval episode with {@code groups} filler groups, the key after a uniform number of them, answered: the
   * evaluation's prompt followed by the key and a full stop.
   */
  String episode(int groups) {
    int key = key();
    String keyLine = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
    int before = random.nextInt(groups + 1);
    String prompt = String.join("\n", Passkey.TASK, Passkey.FILLER.repeat(before), keyLine,
        Passkey.FILLER.repeat(groups - before), Passkey.QUESTION);
    return prompt + " " + key + ".";
  }

  /** Every word the grammar and the passkey format use, for the tokenizer's vocabulary. */
  static Set<String> words() {
    Set<String> words = new LinkedHashSet<>();
    for (String[] list : List.of(NAMES, ANIMALS, THINGS, PLACES, COLORS, VERBS, MOVES, TIMES)) {
      words.addAll(List.of(list));
    }
    words.addAll(List.of("The", "the", "to", "a", "in", "In", "and", "is", "has", "Where", "It", "it", "was", "at",
        "home", "wrote", "number", "What", "did", "write"));
    for (String text : List.of(Passkey.TASK, Passkey.FILLER, Passkey.QUESTION, "The pass key is. Remember it. is the "
        + "pass key.")) {
      for (String w : text.split("[^A-Za-z]+")) {
        if (!w.isEmpty()) {
          words.add(w);
        }
      }
    }
    return words;
  }

}
