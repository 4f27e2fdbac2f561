package io.pose.trainer.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Reads fetched data: the files of a source (a file, or a directory's files in name order, hidden files skipped),
 * records (JSON lines, or Parquet rows) with where each came from, or whole text files. Errors name the file and
 * line or row.
 */
public final class TextRecords {
  private TextRecords() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A record (a JSON object) and where it is ({@code file:line}, or {@code file:row N} in a Parquet file). */
  public record Record(JsonNode value, String origin) {
    /** A text field of the record, or an error naming the field and what to set. */
    public String text(String field, String setting) {
      JsonNode text = value.get(field);
      if (text == null || !text.isTextual()) {
        throw new DataException(origin + ": no text field \"" + field + "\" (" + setting + ")");
      }
      return text.asText();
    }
  }

  /** The files of a source, in name order. */
  public static List<Path> files(Path source) throws IOException {
    if (!Files.exists(source)) {
      throw new DataException(source + ": no such file or directory (the Fetch stage writes the data there)");
    }
    List<Path> files = new ArrayList<>();
    if (Files.isDirectory(source)) {
      try (Stream<Path> walk = Files.walk(source)) {
        walk.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(".")).sorted()
            .forEach(files::add);
      }
    } else {
      files.add(source);
    }
    return files;
  }

  /**
   * Every record of the source (what {@link #forEach} reads), in memory: for evaluation files and benchmarks, which
   * are small; a training corpus is read with {@code forEach}.
   */
  public static List<Record> jsonl(Path source) throws IOException {
    List<Record> records = new ArrayList<>();
    forEach(source, records::add);
    return records;
  }

  /**
   * Hands each record of the source to the action in order, holding at most one JSONL line or one Parquet row
   * group at a time: {@code .parquet} files row by row ({@code file:row N}), any other file as JSON lines
   * ({@code file:line}, blank lines skipped).
   *
   * @throws DataException for a line that is not a JSON object, or a file that is not readable Parquet
   */
  public static void forEach(Path source, Consumer<Record> action) throws IOException {
    for (Path file : files(source)) {
      if (isParquet(file)) {
        ParquetRecords.forEach(file, action);
      } else {
        jsonLines(file, action);
      }
    }
  }

  /**
   * The columns of a Parquet file (its top-level fields, what its records have), from its footer: to refuse a file
   * without a column before reading its rows.
   */
  public static List<String> parquetColumns(Path file) throws IOException {
    return ParquetRecords.columns(file);
  }

  /** Whether a file is read as Parquet: by its name, as the datasets name them. */
  public static boolean isParquet(Path file) {
    return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet");
  }

  private static void jsonLines(Path file, Consumer<Record> action) throws IOException {
    try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = reader.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        JsonNode record;
        try {
          record = JSON.readTree(line);
        } catch (JsonProcessingException e) {
          throw new DataException(file + ":" + number + ": not a JSON object: " + e.getOriginalMessage());
        }
        if (record == null || !record.isObject()) {
          throw new DataException(file + ":" + number + ": not a JSON object");
        }
        action.accept(new Record(record, file + ":" + number));
      }
    }
  }

  /** Every text file of the source, one document each. */
  public static List<Record> texts(Path source) throws IOException {
    List<Record> documents = new ArrayList<>();
    for (Path file : files(source)) {
      documents.add(new Record(JSON.getNodeFactory().objectNode().put("text",
          Files.readString(file, StandardCharsets.UTF_8)), file.toString()));
    }
    return documents;
  }
}
