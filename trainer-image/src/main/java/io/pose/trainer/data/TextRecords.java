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
import java.util.stream.Stream;

/**
 * Reads fetched data: the files of a source (a file, or a directory's files in name order, hidden files skipped),
 * JSONL records with where each came from, or whole text files. Errors name the file and line.
 */
public final class TextRecords {
  private TextRecords() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A JSONL record and where it is ({@code file:line}). */
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

  /** Every JSONL record of the source (blank lines skipped). */
  public static List<Record> jsonl(Path source) throws IOException {
    List<Record> records = new ArrayList<>();
    for (Path file : files(source)) {
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
          records.add(new Record(record, file + ":" + number));
        }
      }
    }
    return records;
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
