package io.pose.trainer.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's own tokenizer (its tokenizer.json), through DJL's binding of the Hugging Face tokenizers library: the
 * same Rust code transformers uses, so ids match what the model was trained with. Special tokens are added as the
 * tokenizer's post-processor says (Llama adds BOS), as the official PoSE code does.
 */
public final class TextTokenizer implements AutoCloseable {

  private final HuggingFaceTokenizer tokenizer;

  private TextTokenizer(HuggingFaceTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Loads modelDirectory/tokenizer.json, offline. */
  public static TextTokenizer of(Path modelDirectory) throws IOException {
    Path file = modelDirectory.resolve("tokenizer.json");
    if (!Files.exists(file)) {
      throw new DataException(modelDirectory + ": no tokenizer.json (the model's tokenizer is needed to read text data)");
    }
    // no truncation, no padding: documents are kept whole, the sampler decides what a sample holds
    return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of("truncation", "false", "padding", "false")));
  }

  /** Ids of the text, with the special tokens the tokenizer's post-processor adds (Llama: BOS). */
  public int[] encode(String text) {
    return encode(text, true);
  }

  /**
   * @param addSpecialTokens whether the post-processor's special tokens (BOS) are added: lm-evaluation-harness and the
   *     official perplexity script encode without them
   */
  public int[] encode(String text, boolean addSpecialTokens) {
    Encoding e = tokenizer.encode(text, addSpecialTokens, false);
    long[] ids = e.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** The text of ids; special tokens (BOS, EOS, padding) are left out when skipSpecialTokens. */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return tokenizer.decode(l, skipSpecialTokens);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
