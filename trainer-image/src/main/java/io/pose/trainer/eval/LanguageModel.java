package io.pose.trainer.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.core.hf.ConfigException;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.core.rope.Rope;
import io.pose.core.rope.RopeFrequencies;
import io.pose.trainer.data.TextTokenizer;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.FusedOps;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.model.KvCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A model directory ready for evaluation: the decoder with its weights, its tokenizer and its end-of-sequence ids.
 * Sequences run in blocks over a key/value cache ({@link Decoder#forwardCached}), so the attention scores of one
 * block are [block, length] and the logits [block, vocab]: a 32k-token prompt needs neither [32k, 32k] scores nor
 * [32k, vocab] logits at once.
 */
public final class LanguageModel implements AutoCloseable {

  /** Tokens per block when a sequence runs in blocks. */
  public static final int DEFAULT_BLOCK = 2048;
  /** Positions whose logits are computed at once when scoring. */
  static final int HEAD_SLICE = 256;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path directory;
  private final NDManager manager;
  private final Decoder decoder;
  private final TextTokenizer tokenizer;
  private final Set<Integer> eos;
  private final int block;

  private LanguageModel(Path directory, NDManager manager, Decoder decoder, TextTokenizer tokenizer, Set<Integer> eos,
      int block) {
    this.directory = directory;
    this.manager = manager;
    this.decoder = decoder;
    this.tokenizer = tokenizer;
    this.eos = eos;
    this.block = block;
  }

  /**
   * Loads a Hugging Face model directory (config.json, safetensors weights, tokenizer.json; generation_config.json's
   * eos_token_id where present, as generate() uses it).
   *
   * @param block tokens per block
   * @throws CheckpointException for a missing or unreadable config, weights or tokenizer, naming the file
   */
  public static LanguageModel load(Path directory, ComputeType compute, int block) throws IOException {
    return load(directory, compute, block, ai.djl.Device.cpu());
  }

  /**
   * Loads a model directory onto a device (the CPU, or the GPU the evaluation pod was given).
   *
   * @param block tokens per block
   */
  public static LanguageModel load(Path directory, ComputeType compute, int block, ai.djl.Device device)
      throws IOException {
    if (block < 1) {
      throw new IllegalArgumentException("block must be positive, not " + block);
    }
    Path configFile = directory.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new CheckpointException(configFile + ": no such file (not a Hugging Face model directory)");
    }
    ModelConfig config;
    try {
      config = HfConfigs.read(configFile);
    } catch (ConfigException e) {
      throw new CheckpointException(e.getMessage(), e);
    }
    NDManager manager = NDManager.newBaseManager(device);
    try {
      DecoderWeights weights;
      try (Checkpoint c = Checkpoint.open(directory)) {
        weights = DecoderWeights.load(config, c, manager);
      }
      TextTokenizer tokenizer;
      try {
        tokenizer = TextTokenizer.of(directory);
      } catch (IOException e) {
        throw new CheckpointException(e.getMessage(), e);
      }
      return new LanguageModel(directory, manager, new Decoder(config, weights, compute), tokenizer,
          eosIds(directory, config), block);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  private static Set<Integer> eosIds(Path directory, ModelConfig config) throws IOException {
    Set<Integer> ids = new LinkedHashSet<>();
    Path generation = directory.resolve("generation_config.json");
    if (Files.isRegularFile(generation)) {
      JsonNode eos = JSON.readTree(generation.toFile()).get("eos_token_id");
      if (eos != null && eos.isInt()) {
        ids.add(eos.intValue());
      } else if (eos != null && eos.isArray()) {
        eos.forEach(e -> ids.add(e.intValue()));
      }
    }
    if (ids.isEmpty() && config.eosTokenIds() != null) {
      ids.addAll(config.eosTokenIds());
    }
    return ids;
  }

  public Path directory() {
    return directory;
  }

  public ModelConfig config() {
    return decoder.config();
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /** The id prepended to each perplexity window (bos_token_id). */
  public int bosTokenId() {
    Integer bos = config().bosTokenId();
    if (bos == null) {
      throw new IllegalStateException(directory + "/config.json has no bos_token_id, which the protocol prepends");
    }
    return bos;
  }

  /**
   * The token lm-evaluation-harness puts before an empty context: BOS, else the first EOS.
   */
  public int prefixTokenId() {
    if (config().bosTokenId() != null) {
      return config().bosTokenId();
    }
    if (!eos.isEmpty()) {
      return eos.iterator().next();
    }
    throw new IllegalStateException(directory + "/config.json has neither bos_token_id nor eos_token_id");
  }

  /**
   * Log-probabilities of ids[t] given ids[0..t-1] for every t in [from, length), and whether each was the greedy
   * choice: one forward over the sequence, in blocks.
   *
   * @param from the first scored index, at least 1 (the first token has no prediction)
   */
  public Scores score(int[] ids, int from) {
    if (from < 1 || from > ids.length) {
      throw new IllegalArgumentException("scored tokens start at 1..length, not " + from + " of " + ids.length);
    }
    double[] logProbs = new double[ids.length - from];
    boolean[] greedy = new boolean[ids.length - from];
    RopeFrequencies frequencies = Rope.forSequenceLength(config().rope(), ids.length);
    try (NDManager m = manager.newSubManager(); KvCache cache = decoder.newCache(m, ids.length)) {
      for (int start = 0; start < ids.length; start += block) {
        int end = Math.min(start + block, ids.length);
        try (NDManager scope = m.newSubManager()) {
          NDArray hidden = decoder.forwardCached(tensor(scope, ids, start, end), cache, frequencies);
          // the output at index i predicts ids[i + 1]: here those of i in [lo, hi)
          int lo = Math.max(start, from - 1);
          int hi = Math.min(end, ids.length - 1);
          if (lo >= hi) {
            continue;
          }
          // the head in slices, so that the logits held at once are [HEAD_SLICE, vocab]
          for (int a = lo; a < hi; a += HEAD_SLICE) {
            int b = Math.min(a + HEAD_SLICE, hi);
            try (NDManager slice = scope.newSubManager()) {
              NDArray h = hidden.get("0, {}:{}, :", a - start, b - start);
              h.attach(slice);
              NDArray targets = slice.create(Arrays.stream(ids, a + 1, b + 1).asLongStream().toArray());
              float[] s = FusedOps.tokenScores(decoder.logits(h), targets).toFloatArray();
              for (int i = 0; i < b - a; i++) {
                logProbs[a + 1 - from + i] = s[2 * i];
                greedy[a + 1 - from + i] = s[2 * i + 1] != 0f;
              }
            }
          }
        }
      }
    }
    return new Scores(logProbs, greedy);
  }

  /**
   * Greedy decoding as transformers' generate() with do_sample=False: the prompt runs in blocks, then one token at a
   * time over the cache, until an end-of-sequence id (kept in the result) or maxNewTokens.
   *
   * @return the new ids only
   */
  public int[] greedy(int[] prompt, int maxNewTokens) {
    List<Integer> out = new ArrayList<>();
    try (NDManager m = manager.newSubManager(); KvCache cache = decoder.newCache(m, prompt.length + maxNewTokens)) {
      // one forward over the prompt: RoPE frequencies of the prompt's length (dynamic scaling), then per step
      RopeFrequencies frequencies = Rope.forSequenceLength(config().rope(), prompt.length);
      int next = -1;
      for (int start = 0; start < prompt.length; start += block) {
        int end = Math.min(start + block, prompt.length);
        try (NDManager scope = m.newSubManager()) {
          NDArray hidden = decoder.forwardCached(tensor(scope, prompt, start, end), cache, frequencies);
          if (end == prompt.length) {
            next = argmaxLast(hidden);
          }
        }
      }
      while (true) {
        out.add(next);
        if (eos.contains(next) || out.size() == maxNewTokens) {
          break;
        }
        try (NDManager scope = m.newSubManager()) {
          int position = cache.length();
          NDArray hidden = decoder.forwardCached(scope.create(new long[] {next}, new Shape(1, 1)), cache,
              Rope.forSequenceLength(config().rope(), position + 1));
          next = argmaxLast(hidden);
        }
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  private int argmaxLast(NDArray hidden) {
    long n = hidden.getShape().get(1);
    NDArray logits = decoder.logits(hidden.get("0, {}:{}, :", n - 1, n)); // [1, vocab]
    return Math.toIntExact(logits.argMax(-1).toLongArray()[0]);
  }

  private static NDArray tensor(NDManager m, int[] ids, int start, int end) {
    long[] l = new long[end - start];
    for (int i = start; i < end; i++) {
      l[i - start] = ids[i];
    }
    return m.create(l, new Shape(1, l.length));
  }

  /**
   * Per scored token: its log-probability and whether it was the argmax.
   */
  public record Scores(double[] logProbs, boolean[] greedy) {
    public double sum() {
      double s = 0;
      for (double l : logProbs) {
        s += l;
      }
      return s;
    }

    public boolean allGreedy() {
      for (boolean g : greedy) {
        if (!g) {
          return false;
        }
      }
      return true;
    }
  }

  @Override
  public void close() {
    tokenizer.close();
    manager.close();
  }
}
