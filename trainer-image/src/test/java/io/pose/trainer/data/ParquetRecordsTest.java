package io.pose.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.DataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parquet files written by pyarrow read as the records pyarrow reads from them (tools/reference/
 * make_parquet_fixtures.py): snappy and zstd, two row groups, lists and structs; and a Parquet corpus tokenizes as
 * its JSON-lines export does.
 */
class ParquetRecordsTest {

  static final Path FIXTURES = Path.of("src/test/resources/parquet");
  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> FILES =
      List.of("corpus-snappy.parquet", "corpus-zstd.parquet", "arc_easy.parquet", "hellaswag.parquet");

  @Test
  void everyRowIsThePyarrowRecord() throws IOException {
    JsonNode expected = JSON.readTree(FIXTURES.resolve("expected.json").toFile());
    for (String name : FILES) {
      Path file = FIXTURES.resolve(name);
      List<TextRecords.Record> records = TextRecords.jsonl(file);
      JsonNode rows = expected.get(name);
      assertThat(records).as(name).hasSize(rows.size());
      for (int i = 0; i < rows.size(); i++) {
        TextRecords.Record r = records.get(i);
        assertThat(r.origin()).isEqualTo(file + ":row " + (i + 1));
        assertThat(r.value()).as(r.origin()).isEqualTo(rows.get(i));
        List<String> fields = new ArrayList<>();
        r.value().fieldNames().forEachRemaining(fields::add);
        assertThat(fields).as("in column order").containsExactlyElementsOf(TextRecords.parquetColumns(file));
      }
    }
    assertThat(TextRecords.parquetColumns(FIXTURES.resolve("corpus-zstd.parquet")))
        .containsExactly("text", "id", "score", "keep");
  }

  @Test
  void aDirectoryMixesJsonLinesAndParquetInNameOrder(@TempDir Path tmp) throws IOException {
    Files.copy(FIXTURES.resolve("corpus-zstd.parquet"), tmp.resolve("a.parquet"));
    Files.writeString(tmp.resolve("b.jsonl"), "{\"text\": \"last\"}\n");
    List<String> origins = new ArrayList<>();
    TextRecords.forEach(tmp, r -> origins.add(r.origin().substring(tmp.toString().length() + 1)));
    assertThat(origins).containsExactly("a.parquet:row 1", "a.parquet:row 2", "a.parquet:row 3", "a.parquet:row 4",
        "a.parquet:row 5", "b.jsonl:1");
  }

  @Test
  void aParquetCorpusTokenizesAsItsJsonLinesExport(@TempDir Path tmp) throws IOException {
    JsonNode rows = JSON.readTree(FIXTURES.resolve("expected.json").toFile()).get("corpus-snappy.parquet");
    StringBuilder jsonl = new StringBuilder();
    rows.forEach(r -> jsonl.append(JSON.createObjectNode().put("text", r.get("text").asText())).append('\n'));
    Path exported = tmp.resolve("corpus.jsonl");
    Files.writeString(exported, jsonl);
    try (TextTokenizer tokenizer = TextTokenizer.of(TokenizationTest.MODEL)) {
      Path want = tmp.resolve("jsonl.tokens");
      assertThat(CorpusTokenizer.tokenize(exported, DataSource.Format.JSONL, "text", tokenizer, 128, want)).isEqualTo(5);
      for (String name : List.of("corpus-snappy.parquet", "corpus-zstd.parquet")) {
        Path got = tmp.resolve(name + ".tokens");
        assertThat(CorpusTokenizer.tokenize(FIXTURES.resolve(name), DataSource.Format.JSONL, "text", tokenizer, 128, got))
            .isEqualTo(5);
        assertThat(Files.readAllBytes(got)).as(name).isEqualTo(Files.readAllBytes(want));
      }
    }
  }

  @Test
  void aFileWithoutTheTextColumnNamesItsColumns(@TempDir Path tmp) throws IOException {
    Path file = FIXTURES.resolve("arc_easy.parquet");
    try (TextTokenizer tokenizer = TextTokenizer.of(TokenizationTest.MODEL)) {
      assertThatThrownBy(() -> CorpusTokenizer.tokenize(file, DataSource.Format.JSONL, "text", tokenizer, 128,
          tmp.resolve("o"))).isInstanceOf(DataException.class)
          .hasMessage(file + ": no column \"text\" (spec.training.data.textField); its columns: id, question, choices,"
              + " answerKey");
    }
  }

  @Test
  void aCorruptFileIsNamed(@TempDir Path tmp) throws IOException {
    byte[] good = Files.readAllBytes(FIXTURES.resolve("corpus-snappy.parquet"));
    Path truncated = tmp.resolve("truncated.parquet");
    Files.write(truncated, Arrays.copyOf(good, good.length / 2));
    Path text = tmp.resolve("text.parquet");
    Files.writeString(text, "{\"text\": \"a JSON line, not Parquet\"}\n");
    for (Path file : List.of(truncated, text)) {
      assertThatThrownBy(() -> TextRecords.jsonl(file)).isInstanceOf(DataException.class)
          .hasMessageStartingWith(file + ": not a readable Parquet file (");
      assertThatThrownBy(() -> TextRecords.parquetColumns(file)).isInstanceOf(DataException.class)
          .hasMessageStartingWith(file + ": not a readable Parquet file (");
    }
  }
}
