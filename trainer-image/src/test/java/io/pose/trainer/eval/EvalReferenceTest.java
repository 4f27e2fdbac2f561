package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Perplexity, greedy decoding and passkey prompts against what the reference implementations compute
 * (tools/reference/eval_reference.py): the official PoSE compute_perplexity with transformers on the four tiny
 * models, transformers' generate() with its key/value cache, and the official passkey prompt builder.
 */
class EvalReferenceTest {

  static JsonNode reference;

  @TempDir
  static Path tmp;

  @BeforeAll
  static void read() throws IOException {
    reference = new ObjectMapper().readTree(Path.of("src/test/resources/eval/reference_eval.json").toFile());
  }

  static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  static Offset<Double> relative(double expected) {
    return Offset.offset(1e-4 * Math.max(1, Math.abs(expected)));
  }

  @Test
  void perplexityFollowsTheOfficialProtocol() throws IOException {
    for (JsonNode c : reference.get("perplexity")) {
      String what = c.get("model").asText() + " W=" + c.get("window") + " S=" + c.get("stride") + " " + c.get("mode");
      List<int[]> documents = new ArrayList<>();
      c.get("documents").forEach(d -> documents.add(ints(d)));
      boolean truncate = c.get("mode").asText().equals("truncate");
      // blocks of 5 tokens: the cache path, not one forward
      try (LanguageModel model = LanguageModel.load(TinyModels.directory(c.get("model").asText(), tmp),
          ComputeType.FP32, 5)) {
        List<Perplexity.Scored> windows = new ArrayList<>();
        Perplexity.Result r = Perplexity.measure(model, documents, c.get("window").asInt(), c.get("stride").asInt(),
            truncate, windows::add);
        JsonNode expected = c.get("windows");
        assertThat(windows).as(what).hasSize(expected.size());
        for (int i = 0; i < windows.size(); i++) {
          Perplexity.Scored w = windows.get(i);
          JsonNode e = expected.get(i);
          assertThat(new int[] {w.window().document(), w.window().begin(), w.window().end(), w.window().scored()})
              .as("%s window %d", what, i)
              .containsExactly(e.get("document").asInt(), e.get("begin").asInt(), e.get("end").asInt(),
                  e.get("scored").asInt());
          assertThat(w.nll()).as("%s window %d nll", what, i).isCloseTo(e.get("nll").asDouble(),
              relative(e.get("nll").asDouble()));
        }
        assertThat(r.tokens()).as(what).isEqualTo(c.get("tokens").asLong());
        assertThat(r.totalNll()).as(what).isCloseTo(c.get("totalNll").asDouble(), relative(c.get("totalNll").asDouble()));
        assertThat(r.perplexity()).as(what).isCloseTo(c.get("perplexity").asDouble(),
            relative(c.get("perplexity").asDouble()));
      }
    }
  }

  @Test
  void greedyDecodingMatchesGenerate() throws IOException {
    for (JsonNode c : reference.get("generation")) {
      String name = c.get("model").asText();
      try (LanguageModel model = LanguageModel.load(TinyModels.directory(name, tmp), ComputeType.FP32, 16)) {
        int[] prompt = ints(c.get("promptIds"));
        if (c.has("prompt")) {
          assertThat(model.tokenizer().encode(c.get("prompt").asText())).as("ids of %s", c.get("prompt"))
              .containsExactly(prompt);
        }
        int[] generated = model.greedy(prompt, reference.get("maxNewTokens").asInt());
        assertThat(generated).as("%s, prompt of %d tokens", name, prompt.length).containsExactly(ints(c.get("newIds")));
        if (c.has("text")) {
          String text = model.tokenizer().decode(generated, true);
          assertThat(text).isEqualTo(c.get("text").asText());
          assertThat(Passkey.firstNumber(text)).isEqualTo(c.get("digits").isNull() ? null : c.get("digits").asText());
        }
      }
    }
  }

  @Test
  void passkeyPromptsAreTheOfficialOnes() throws IOException {
    try (LanguageModel model = LanguageModel.load(TinyModels.directory("llama", tmp), ComputeType.FP32, 64)) {
      for (JsonNode c : reference.get("passkeyPrompts")) {
        int length = c.get("length").asInt();
        assertThat(Passkey.fillerGroups(length)).isEqualTo(c.get("garbageTotal").asInt());
        Passkey.Prompt p = Passkey.prompt(length, c.get("prefix").asInt(), c.get("key").asInt());
        assertThat(p.text()).as("prompt for %d tokens", length).isEqualTo(c.get("prompt").asText());
        int[] ids = model.tokenizer().encode(p.text());
        assertThat(ids).containsExactly(ints(c.get("ids")));
        int[] answer = model.greedy(ids, Passkey.MAX_NEW_TOKENS);
        assertThat(answer).containsExactly(ints(c.get("newIds")));
        String text = model.tokenizer().decode(answer, true);
        assertThat(text).isEqualTo(c.get("text").asText());
        assertThat(Passkey.firstNumber(text)).isEqualTo(c.get("digits").isNull() ? null : c.get("digits").asText());
      }
    }
  }

  @Test
  void passkeyScoringTakesTheFirstRunOfDigitsAsANumber() {
    assertThat(Passkey.passes(" 4711. Remember", 4711)).isTrue();
    assertThat(Passkey.passes("04711", 4711)).isTrue();
    assertThat(Passkey.passes("47 11", 4711)).isFalse();
    assertThat(Passkey.passes("key 12 is 4711", 4711)).isFalse();
    assertThat(Passkey.passes("no digits", 4711)).isFalse();
    assertThat(Passkey.passes("99999999999999999999", 4711)).isFalse();
    // the script's arithmetic: x + y = (L - 69) div 25, the key line after x fillers
    assertThat(Passkey.fillerGroups(32768)).isEqualTo((32768 - 69) / 25);
    Passkey.Prompt a = Passkey.trial(42, 4096, 3);
    assertThat(Passkey.trial(42, 4096, 3)).isEqualTo(a);
    assertThat(a.fillerBefore() + a.fillerAfter()).isEqualTo(Passkey.fillerGroups(4096));
    assertThat(a.key()).isBetween(1, Passkey.MAX_KEY);
    assertThat(Passkey.promptLength(32768, 32768)).isEqualTo(32668);
    assertThat(Passkey.promptLength(16384, 32768)).isEqualTo(16384);
  }
}
