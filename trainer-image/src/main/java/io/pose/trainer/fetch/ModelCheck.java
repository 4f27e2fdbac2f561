package io.pose.trainer.fetch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.data.TextTokenizer;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.TensorInfo;
import io.pose.trainer.model.DecoderWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The checks a fetched model passes before any GPU time is spent: config.json parses through pose-core (a supported
 * architecture, a RoPE type it understands, a known original context length); every tensor the config implies is
 * in the checkpoint (its index and shard headers) with the implied shape; the tokenizer loads, and its ids fit the
 * model's vocabulary. Each problem names the file.
 */
public final class ModelCheck {
  private ModelCheck() {}

  /** What the checks learned. */
  public record Checked(ModelConfig config, int tokenizerVocabulary) {}

  /** At most this many tensor problems are listed in one message. */
  static final int LISTED = 10;

  public static Checked check(Path dir) throws IOException {
    Path configFile = dir.resolve("config.json");
    ModelConfig config;
    try {
      config = HfConfigs.read(configFile);
    } catch (ConfigException e) {
      throw new InvalidModelException(e.getMessage());
    }
    List<String> problems = new ArrayList<>();
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      for (Map.Entry<String, long[]> e : DecoderWeights.expectedShapes(config).entrySet()) {
        if (!checkpoint.has(e.getKey())) {
          problems.add(e.getKey() + " is missing");
          continue;
        }
        TensorInfo info = checkpoint.info(e.getKey());
        if (!Arrays.equals(info.shape(), e.getValue())) {
          problems.add(e.getKey() + " has shape " + Arrays.toString(info.shape()) + ", config.json implies "
              + Arrays.toString(e.getValue()));
        }
      }
    } catch (CheckpointException e) {
      throw new InvalidModelException(e.getMessage());
    }
    if (!problems.isEmpty()) {
      throw new InvalidModelException(dir + ": the weights do not match config.json (" + config.numHiddenLayers()
          + " layers of " + config.modelType() + ", hidden " + config.hiddenSize() + "): "
          + String.join("; ", problems.subList(0, Math.min(LISTED, problems.size())))
          + (problems.size() > LISTED ? "; and " + (problems.size() - LISTED) + " more" : ""));
    }
    Path tokenizerFile = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(tokenizerFile)) {
      throw new InvalidModelException(dir + ": no tokenizer.json (the fast tokenizer file the trainer reads)");
    }
    try (TextTokenizer t = TextTokenizer.of(dir)) {
      t.encode("The pass key is 12345.");
    } catch (RuntimeException e) {
      throw new InvalidModelException(tokenizerFile + ": the tokenizer does not load: " + e.getMessage());
    }
    int vocabulary = vocabulary(tokenizerFile);
    if (vocabulary > config.vocabSize()) {
      throw new InvalidModelException(tokenizerFile + ": the tokenizer has ids up to " + (vocabulary - 1)
          + ", beyond the model's vocab_size " + config.vocabSize() + " (config.json): it is not this model's tokenizer");
    }
    return new Checked(config, vocabulary);
  }

  /** One more than the largest id the tokenizer can produce: its model's vocabulary and its added tokens. */
  static int vocabulary(Path tokenizerFile) throws IOException {
    JsonNode root = new ObjectMapper().readTree(tokenizerFile.toFile());
    int max = -1;
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject()) {
      for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
        max = Math.max(max, id.asInt());
      }
    } else if (vocab.isArray()) {
      max = vocab.size() - 1; // Unigram: a list of [piece, score]
    }
    for (JsonNode added : root.path("added_tokens")) {
      max = Math.max(max, added.path("id").asInt());
    }
    return max + 1;
  }
}
