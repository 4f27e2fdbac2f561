package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.kernels.ComputeType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multiple-choice scoring against lm-evaluation-harness 0.4.13 itself (tools/reference/lm_eval_reference.py): its
 * own hellaswag, arc_easy, arc_challenge, piqa, boolq and winogrande task definitions and HFLM on the tiny Llama and
 * tiny task files. Every request's context and continuation strings, token ids, log-likelihood (1e-4) and greedy
 * flag, every task's acc and acc_norm, and the 2-shot prompts example for example.
 */
class MultipleChoiceReferenceTest {

  static final Path TASKS = Path.of("src/test/resources/eval/tasks");
  static final ObjectMapper JSON = new ObjectMapper();
  static JsonNode reference;

  @TempDir
  static Path tmp;

  @BeforeAll
  static void read() throws IOException {
    reference = JSON.readTree(Path.of("src/test/resources/eval/reference_lm_eval.json").toFile());
  }

  static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  static void checkRun(LanguageModel model, JsonNode run) throws IOException {
    String task = run.get("task").asText();
    int shots = run.get("num_fewshot").asInt();
    String what = task + " " + shots + "-shot";
    List<MultipleChoice.Question> questions = MultipleChoice.load(task, TASKS.resolve(run.get("data_file").asText()),
        shots);
    JsonNode docs = run.get("docs");
    assertThat(questions).as(what).hasSize(docs.size());
    for (int d = 0; d < docs.size(); d++) {
      JsonNode doc = docs.get(d);
      MultipleChoice.Question q = questions.get(d);
      assertThat(q.gold()).as("%s doc %d gold", what, d).isEqualTo(doc.get("gold").asInt());
      JsonNode requests = doc.get("requests");
      assertThat(q.requests()).as(what).hasSize(requests.size());
      for (int i = 0; i < requests.size(); i++) {
        JsonNode e = requests.get(i);
        MultipleChoice.Request r = q.requests().get(i);
        String where = what + " doc " + d + " request " + i;
        assertThat(r.context()).as(where + " context").isEqualTo(e.get("context").asText());
        assertThat(r.continuation()).as(where + " continuation").isEqualTo(e.get("continuation").asText());
        MultipleChoice.Loglikelihood ll = MultipleChoice.loglikelihood(model, r);
        assertThat(ll.contextIds()).as(where + " context ids").containsExactly(ints(e.get("context_enc")));
        assertThat(ll.continuationIds()).as(where + " continuation ids").containsExactly(ints(e.get("continuation_enc")));
        double expected = e.get("loglikelihood").asDouble();
        assertThat(ll.logLikelihood()).as(where).isCloseTo(expected, Offset.offset(1e-4 * Math.max(1, Math.abs(expected))));
        assertThat(ll.greedy()).as(where + " greedy").isEqualTo(e.get("is_greedy").asBoolean());
      }
    }
    MultipleChoice.Outcome o = MultipleChoice.evaluate(model, questions);
    JsonNode metrics = run.get("metrics");
    assertThat(o.accuracy()).as(what + " acc").isCloseTo(metrics.get("acc").asDouble(), Offset.offset(1e-9));
    if (metrics.has("acc_norm")) {
      assertThat(o.accuracyNorm()).as(what + " acc_norm").isCloseTo(metrics.get("acc_norm").asDouble(),
          Offset.offset(1e-9));
    } else {
      assertThat(o.accuracyNorm()).as(what + " reports no acc_norm").isNull();
    }
  }

  @Test
  void everyTaskAndTheFewShotRunMatchTheHarness() throws IOException {
    try (LanguageModel model = LanguageModel.load(TinyModels.directory("llama", tmp), ComputeType.FP32, 2048)) {
      for (JsonNode run : reference.get("runs")) {
        checkRun(model, run);
      }
      for (JsonNode c : reference.get("encode_pair_cases")) {
        MultipleChoice.Loglikelihood ll = MultipleChoice.loglikelihood(model,
            new MultipleChoice.Request(c.get("context").asText(), c.get("continuation").asText()));
        String where = "(" + c.get("context") + ", " + c.get("continuation") + ")";
        assertThat(ll.contextIds()).as(where).containsExactly(ints(c.get("context_enc")));
        assertThat(ll.continuationIds()).as(where).containsExactly(ints(c.get("continuation_enc")));
        double expected = c.get("loglikelihood").asDouble();
        assertThat(ll.logLikelihood()).as(where).isCloseTo(expected, Offset.offset(1e-4 * Math.max(1, Math.abs(expected))));
        assertThat(ll.greedy()).as(where).isEqualTo(c.get("is_greedy").asBoolean());
      }
    }
  }

  /**
   * A tokenizer whose post-processor prepends BOS (as real Llama tokenizers do) gives the harness's numbers with
   * BOS on every context.
   */
  @Test
  void aTokenizerThatAddsBosScoresAsTheHarnessWithBos() throws IOException {
    Path dir = TinyModels.directory("llama", tmp.resolve("bos"));
    ObjectNode tokenizer = (ObjectNode) JSON.readTree(dir.resolve("tokenizer.json").toFile());
    tokenizer.set("post_processor", JSON.readTree("""
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
        """));
    Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizer));
    try (LanguageModel model = LanguageModel.load(dir, ComputeType.FP32, 2048)) {
      for (JsonNode run : reference.get("bos_runs")) {
        checkRun(model, run);
      }
    }
  }
}
