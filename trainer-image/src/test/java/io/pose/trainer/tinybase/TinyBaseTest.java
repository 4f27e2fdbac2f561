package io.pose.trainer.tinybase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.pose.trainer.train.StepResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/tiny is no mystery blob: the program that made it regenerates the same tokenizer, config and corpora, byte
 * for byte, and its first training steps follow the committed loss curve (fp32, one thread; the tolerance allows for
 * another CPU's vector instructions). The whole run (5000 steps, about 18 minutes on one core) is
 * {@code ./mvnw -q -pl trainer-image test-compile exec:exec@tiny-base}.
 */
class TinyBaseTest {
  static final Path EXAMPLE = Path.of("..", "examples", "tiny").toAbsolutePath().normalize();
  static final int STEPS = 12;

  @TempDir
  Path tmp;

  @Test
  void theProgramReproducesTheTokenizerTheCorporaAndTheLossCurve() throws IOException {
    TinyBase.exampleCorpora(tmp.resolve("corpus"), 600, 40);
    for (String corpus : List.of("train.jsonl", "held-out.jsonl")) {
      assertThat(Files.mismatch(tmp.resolve("corpus").resolve(corpus), EXAMPLE.resolve("corpus").resolve(corpus)))
          .as(corpus).isEqualTo(-1L);
    }
    Path out = tmp.resolve("base-model");
    TinyBase.Options committed = TinyBase.Options.committed(out);
    List<StepResult> curve = TinyBase.make(new TinyBase.Options(out, committed.steps(), committed.documents(),
        committed.peakLearningRate(), committed.warmup(), STEPS), new PrintWriter(new StringWriter()));
    for (String file : List.of("tokenizer.json", "config.json", "generation_config.json")) {
      assertThat(Files.mismatch(out.resolve(file), EXAMPLE.resolve("base-model").resolve(file))).as(file)
          .isEqualTo(-1L);
    }
    List<String> rows = Files.readAllLines(EXAMPLE.resolve("base-model/training-loss.tsv"));
    assertThat(rows).hasSize(committed.steps() + 1);
    assertThat(curve).hasSize(STEPS);
    for (StepResult r : curve) {
      String[] row = rows.get(r.step()).split("\t");
      assertThat(Integer.parseInt(row[0])).isEqualTo(r.step());
      assertThat(r.loss()).as("loss at step " + r.step()).isCloseTo(Double.parseDouble(row[1]), within(1e-3));
      assertThat(r.learningRate()).isCloseTo(Double.parseDouble(row[2]), within(1e-9));
    }
    assertThat(out.resolve("model.safetensors")).as("weights are written only by the whole run").doesNotExist();
  }
}
