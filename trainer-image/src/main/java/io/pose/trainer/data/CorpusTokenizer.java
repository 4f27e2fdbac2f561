package io.pose.trainer.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.DataSource;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Turns fetched text data into a token file once: JSONL (the text in a field) or plain text (one document per file),
 * from a file or a directory of files (read in name order). A line that is not JSON, a record without the field,
 * an unreadable source and an empty corpus are errors naming the file, the line and the field.
 */
public final class CorpusTokenizer {
  private CorpusTokenizer() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @return the number of documents written
   */
  public static int tokenize(Path source, DataSource.Format format, String textField, TextTokenizer tokenizer,
      int vocabularySize, Path tokenFile) throws IOException {
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
    List<int[]> documents = new ArrayList<>();
    for (Path file : files) {
      if (format == DataSource.Format.TEXT) {
        documents.add(tokenizer.encode(Files.readString(file, StandardCharsets.UTF_8)));
        continue;
      }
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
          JsonNode text = record == null ? null : record.get(textField);
          if (text == null || !text.isTextual()) {
            throw new DataException(file + ":" + number + ": no text field \"" + textField
                + "\" (spec.training.data.textField)");
          }
          documents.add(tokenizer.encode(text.asText()));
        }
      }
    }
    if (documents.isEmpty()) {
      throw new DataException(source + ": no documents (" + files.size() + " files read)");
    }
    TokenFile.write(tokenFile, documents, vocabularySize);
    return documents.size();
  }
}
