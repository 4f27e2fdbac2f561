package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A benchmark in its dataset's Parquet layout (ARC's choices struct, HellaSwag's endings list and string label;
 * tools/reference/make_parquet_fixtures.py) builds the questions its JSON-lines file builds.
 */
class MultipleChoiceParquetTest {

  static final Path PARQUET = Path.of("src/test/resources/parquet");

  @Test
  void parquetTasksBuildTheJsonLinesQuestions() throws IOException {
    for (String task : List.of("arc_easy", "hellaswag")) {
      for (int shots : new int[] {0, 2}) {
        List<MultipleChoice.Question> want =
            MultipleChoice.load(task, MultipleChoiceReferenceTest.TASKS.resolve(task + ".jsonl"), shots);
        Path file = PARQUET.resolve(task + ".parquet");
        List<MultipleChoice.Question> got = MultipleChoice.load(task, file, shots);
        assertThat(got).as(task + " " + shots + "-shot").hasSize(want.size());
        for (int i = 0; i < want.size(); i++) {
          assertThat(got.get(i).origin()).isEqualTo(file + ":row " + (i + 1));
          assertThat(got.get(i).requests()).as(task + " question " + i).isEqualTo(want.get(i).requests());
          assertThat(got.get(i).gold()).isEqualTo(want.get(i).gold());
          assertThat(got.get(i).choices()).isEqualTo(want.get(i).choices());
        }
      }
    }
  }
}
