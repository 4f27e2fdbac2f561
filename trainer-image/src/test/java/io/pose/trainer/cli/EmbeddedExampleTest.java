package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.EvaluationResults.PasskeyResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, examples/tiny-pose.yaml, end to end: the tiny base model retrieves the pass key inside
 * its 128-token window and not at 512; after PoSE training on 128-token samples it does at 512. A change in any stage
 * that breaks learning (sampling, RoPE scaling, the optimizer, export, evaluation) fails this test.
 */
class EmbeddedExampleTest {
  static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @TempDir
  Path tmp;

  @Test
  void poseExtendsTheTinyModelFrom128To512Tokens() throws IOException {
    Path examples = REPO.resolve("examples");
    // the example as it is, its relative sources made absolute and published into the test's directory
    String text = Files.readString(examples.resolve("tiny-pose.yaml"))
        .replace("file:tiny/", "file://" + examples.resolve("tiny") + "/")
        .replace("file:../.pose/published/tiny-pose", "file://" + tmp.resolve("published"));
    assertThat(text).doesNotContain("file:t").doesNotContain("file:.");
    Path spec = tmp.resolve("tiny-pose.yaml");
    Files.writeString(spec, text);
    RunCommandTest.Outcome o = RunCommandTest.run("-f", spec.toString(), "--workspace", tmp.resolve("ws").toString(),
        "--progress", "none");
    assertThat(o.code()).as(o.out() + o.err()).isZero();
    assertThat(o.out()).contains("== summary ==").contains("original window").contains("target")
        .contains("plot: " + tmp.resolve("ws/eval/passkey.png"));
    EvaluationResults r = new ObjectMapper().readValue(tmp.resolve("published/eval/results.json").toFile(),
        EvaluationResults.class);
    Map<Integer, PasskeyResult> byLength = r.getPasskey().stream()
        .collect(Collectors.toMap(PasskeyResult::getLength, p -> p));
    assertThat(byLength.get(128).getBaseAccuracy()).as("the base model inside its window").isGreaterThanOrEqualTo(0.9);
    assertThat(byLength.get(512).getBaseAccuracy()).as("the base model at 4x its window").isLessThanOrEqualTo(0.2);
    assertThat(byLength.get(512).getAccuracy()).as("the extended model at the target").isGreaterThanOrEqualTo(0.8);
    assertThat(byLength.get(128).getAccuracy()).as("the extended model keeps its window").isGreaterThanOrEqualTo(0.8);
  }
}
