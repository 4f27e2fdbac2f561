package io.pose.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.DataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model's tokenizer gives the ids the Python tokenizers library gives (tools/reference/make_tiny_tokenizer.py). */
class TokenizationTest {

  static final Path MODEL = Path.of("src/test/resources/tiny-models/llama");

  @Test
  void idsMatchTheHuggingFaceLibrary() throws IOException {
    JsonNode expected = new ObjectMapper().readTree(MODEL.resolve("tokenizer_expected.json").toFile());
    try (TextTokenizer tokenizer = TextTokenizer.of(MODEL)) {
      for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        int[] want = new int[e.getValue().size()];
        for (int i = 0; i < want.length; i++) {
          want[i] = e.getValue().get(i).asInt();
        }
        assertThat(tokenizer.encode(e.getKey())).as(e.getKey()).containsExactly(want);
      }
    }
  }

  @Test
  void jsonlAndTextCorporaBecomeTokenFiles(@TempDir Path tmp) throws IOException {
    Path data = tmp.resolve("data");
    Files.createDirectories(data);
    Files.writeString(data.resolve("part-0.jsonl"), "{\"text\": \"The grass is green.\"}\n\n{\"text\": \"The sky is blue.\", \"id\": 2}\n");
    Files.writeString(data.resolve("part-1.jsonl"), "{\"text\": \"Here we go.\"}\n");
    try (TextTokenizer tokenizer = TextTokenizer.of(MODEL)) {
      Path out = tmp.resolve("train.tokens");
      assertThat(CorpusTokenizer.tokenize(data, DataSource.Format.JSONL, "text", tokenizer, 128, out)).isEqualTo(3);
      try (TokenFile f = TokenFile.open(out)) {
        assertThat(f.tokens(0)).containsExactly(tokenizer.encode("The grass is green."));
        assertThat(f.tokens(2)).containsExactly(tokenizer.encode("Here we go."));
      }
      Path text = tmp.resolve("book.txt");
      Files.writeString(text, "There and back again.");
      assertThat(CorpusTokenizer.tokenize(text, DataSource.Format.TEXT, null, tokenizer, 128, out)).isEqualTo(1);
    }
  }

  @Test
  void badRecordsNameTheFileLineAndField(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("d.jsonl");
    try (TextTokenizer tokenizer = TextTokenizer.of(MODEL)) {
      Files.writeString(file, "{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n");
      assertThatThrownBy(() -> CorpusTokenizer.tokenize(file, DataSource.Format.JSONL, "text", tokenizer, 128, tmp.resolve("o")))
          .hasMessage(file + ":2: no text field \"text\" (spec.training.data.textField)");
      Files.writeString(file, "{not json\n");
      assertThatThrownBy(() -> CorpusTokenizer.tokenize(file, DataSource.Format.JSONL, "text", tokenizer, 128, tmp.resolve("o")))
          .hasMessageStartingWith(file + ":1: not a JSON object");
      Files.writeString(file, "\n");
      assertThatThrownBy(() -> CorpusTokenizer.tokenize(file, DataSource.Format.JSONL, "text", tokenizer, 128, tmp.resolve("o")))
          .hasMessage(file + ": no documents (1 files read)");
      assertThatThrownBy(() -> CorpusTokenizer.tokenize(tmp.resolve("gone"), DataSource.Format.JSONL, "text", tokenizer, 128,
          tmp.resolve("o"))).hasMessageEndingWith("no such file or directory (the Fetch stage writes the data there)");
    }
    assertThatThrownBy(() -> TextTokenizer.of(tmp)).hasMessageContaining("no tokenizer.json");
  }
}
