package io.pose.trainer.tinybase;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tiny model's tokenizer.json, in the Hugging Face tokenizers format: a word-level vocabulary (each word with and
 * without its leading space, as byte-level pre-tokenization gives them), every digit a token of its own (so a pass
 * key is copied digit by digit), punctuation and line breaks as tokens, and byte-level decoding, so "Ġ1", "2", ...
 * decode to " 12". The Llama-style ids 0, 1, 2 are &lt;unk&gt;, &lt;s&gt; and &lt;/s&gt;.
 */
final class TinyTokenizer {
  private TinyTokenizer() {}

  static final String SPACE = "\u0120"; // byte-level's stand-in for ' '
  static final String NEWLINE = "\u010a"; // ... and for '\n'

  /** The vocabulary, in id order. */
  static Map<String, Integer> vocabulary(Set<String> words) {
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (String special : new String[] {"<unk>", "<s>", "</s>"}) {
      vocab.put(special, vocab.size());
    }
    for (String piece : new String[] {SPACE, NEWLINE, ".", ",", "?", SPACE + "?", SPACE + "."}) {
      vocab.put(piece, vocab.size());
    }
    for (int d = 0; d <= 9; d++) {
      vocab.put(String.valueOf(d), vocab.size());
    }
    for (String w : words) {
      vocab.putIfAbsent(w, vocab.size());
      vocab.putIfAbsent(SPACE + w, vocab.size());
    }
    return vocab;
  }

  static void write(Path file, Map<String, Integer> vocab) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (String special : new String[] {"<unk>", "<s>", "</s>"}) {
      ObjectNode t = added.addObject();
      t.put("id", vocab.get(special));
      t.put("content", special);
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Sequence");
    ArrayNode pres = pre.putArray("pretokenizers");
    ObjectNode digits = pres.addObject();
    digits.put("type", "Digits");
    digits.put("individual_digits", true);
    ObjectNode byteLevel = pres.addObject();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    byteLevel.put("use_regex", true);
    root.putNull("post_processor");
    ObjectNode decoder = root.putObject("decoder");
    decoder.put("type", "ByteLevel");
    decoder.put("add_prefix_space", true);
    decoder.put("trim_offsets", true);
    decoder.put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode v = model.putObject("vocab");
    vocab.forEach(v::put);
    model.put("unk_token", "<unk>");
    Files.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
  }
}
