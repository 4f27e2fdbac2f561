package io.pose.trainer.fetch;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which files of a model repository the pipeline needs: the config, the generation config, the safetensors
 * weights and their index, the tokenizer files, and the model card and licence (their terms travel with the
 * extended model). Only the repository's top level: subdirectories hold other formats (original/, onnx/, gguf).
 * Pickled PyTorch weights (.bin, .pt, .pth, .ckpt) are never fetched: loading a pickle runs whatever code it
 * holds, and the trainer reads safetensors only. Mistral's consolidated*.safetensors (another layout of the same
 * weights) is left out when Hugging Face shards are there.
 */
public final class ModelFiles {
  private ModelFiles() {}

  static final Set<String> NAMED = Set.of("config.json", "generation_config.json", "model.safetensors.index.json",
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "added_tokens.json",
      "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json", "README.md", "USE_POLICY.md");
  private static final Pattern LICENSE = Pattern.compile("(?i)(LICEN[CS]E|NOTICE)(\\.[A-Za-z0-9]+)?");
  private static final Pattern PICKLE = Pattern.compile("(?i).+\\.(bin|pt|pth|ckpt|pkl)");

  /** The files to fetch, or an error saying what the repository lacks. */
  public static List<Source.Entry> select(Source.Listing listing, String uri) throws InvalidModelException {
    List<Source.Entry> out = new ArrayList<>();
    List<String> pickles = new ArrayList<>();
    boolean weights = false;
    boolean config = false;
    for (Source.Entry e : listing.entries()) {
      String p = e.path();
      if (p.contains("/")) {
        continue;
      }
      if (p.toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
        weights = true;
        out.add(e);
      } else if (NAMED.contains(p) || LICENSE.matcher(p).matches()) {
        config |= p.equals("config.json");
        out.add(e);
      } else if (PICKLE.matcher(p).matches()) {
        pickles.add(p);
      }
    }
    // Mistral's repositories also ship consolidated*.safetensors (its own format, the same weights again): with the
    // Hugging Face shards or model.safetensors present, it would only double the download
    boolean hfWeights = out.stream().anyMatch(e -> e.path().endsWith(".safetensors")
        && !e.path().startsWith("consolidated"));
    if (hfWeights) {
      out.removeIf(e -> e.path().startsWith("consolidated") && e.path().endsWith(".safetensors"));
    }
    if (!config) {
      throw new InvalidModelException(uri + " (revision " + listing.revision() + "): no config.json at the top "
          + "level: not a Hugging Face model directory");
    }
    if (!weights) {
      throw new InvalidModelException(uri + " (revision " + listing.revision() + "): no safetensors weights"
          + (pickles.isEmpty() ? "" : ", only pickled PyTorch files (" + String.join(", ", pickles) + "). A pickle "
              + "runs whatever code it holds when it is loaded, so they are not fetched; convert the model to "
              + "safetensors (for example with the Hub's convert Space) and point spec.model.source at that"));
    }
    return out;
  }
}
