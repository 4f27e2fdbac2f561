package io.pose.trainer.data;

import io.pose.api.v1alpha1.DataSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns fetched text data into a token file once: records (JSON lines or Parquet rows, the text in a field; read
 * through {@link TextRecords}, one record at a time) or plain text (one document per file), from a file or a
 * directory of files (read in name order). A line that is not JSON, a record without the field, a Parquet file
 * without the column, an unreadable source and an empty corpus are errors naming the file, the line and the field.
 */
public final class CorpusTokenizer {
  private CorpusTokenizer() {}

  private static final String TEXT_FIELD = "spec.training.data.textField";

  /**
   * @return the number of documents written
   */
  public static int tokenize(Path source, DataSource.Format format, String textField, TextTokenizer tokenizer,
      int vocabularySize, Path tokenFile) throws IOException {
    List<Path> files = TextRecords.files(source);
    List<int[]> documents = new ArrayList<>();
    for (Path file : files) {
      if (format == DataSource.Format.TEXT) {
        documents.add(tokenizer.encode(Files.readString(file, StandardCharsets.UTF_8)));
        continue;
      }
      if (TextRecords.isParquet(file)) {
        List<String> columns = TextRecords.parquetColumns(file);
        if (!columns.contains(textField)) {
          throw new DataException(file + ": no column \"" + textField + "\" (" + TEXT_FIELD + "); its columns: "
              + String.join(", ", columns));
        }
      }
      TextRecords.forEach(file, r -> documents.add(tokenizer.encode(r.text(textField, TEXT_FIELD))));
    }
    if (documents.isEmpty()) {
      throw new DataException(source + ": no documents (" + files.size() + " files read)");
    }
    TokenFile.write(tokenFile, documents, vocabularySize);
    return documents.size();
  }
}
