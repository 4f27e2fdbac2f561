package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pose plan} on the reference run: Mistral-7B at 8k on 8 GPUs (examples/mistral-32k.yaml). */
class PlanCommandTest {

  static final Path SPEC = Path.of("../examples/mistral-32k.yaml");
  static final Path MISTRAL = Path.of("src/test/resources/reference/configs/mistral-7b-v0.1.json");

  record Outcome(int code, String out, String err) {}

  static Outcome plan(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 1];
    all[0] = "plan";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), all);
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void theReferenceRunFitsA48GigabyteGpu() {
    Outcome o = plan("--config", SPEC.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "48GB");
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("7,241,732,096 parameters, 32 layers; 1 node x 8 GPUs")
        .contains("8 ranks, ZeRO 3, bf16, micro batch 1 x 8192 tokens, recomputation on")
        .contains("DeepSpeed's estimate for ZeRO-3 on 8 GPUs").containsPattern("peak +[0-9.]+ GiB +of 44.70 GiB");
  }

  @Test
  void aPlanThatDoesNotFitExitsWithTwoAndNamesWhatWould() {
    Outcome o = plan("--config", SPEC.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "32GiB");
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.err()).contains("the plan needs").contains("more than 32.00 GiB").contains("would fit:")
        .contains("3 nodes of 8 ranks at ZeRO 3");
    Outcome tiny = plan("--config", SPEC.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "16GB");
    assertThat(tiny.code()).isEqualTo(2);
    assertThat(tiny.err()).contains("nothing tried fits").contains("spec.pose.trainingWindow");
  }

  @Test
  void fullLengthFineTuningIsPlannedAtTheTargetLength(@TempDir Path tmp) throws IOException {
    // the same run with method: full trains 32768-token samples, and its plan says so
    Path full = tmp.resolve("full.yaml");
    Files.writeString(full, Files.readString(SPEC).replaceFirst("(?m)^  pose:\n", "  pose:\n    method: full\n")
        .replaceFirst("(?m)^    chunks: 2.*\n", ""));
    Outcome o = plan("--config", full.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "141GB");
    assertThat(o.out()).contains("micro batch 1 x 32768 tokens");
    Outcome pose = plan("--config", SPEC.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "141GB");
    assertThat(peak(o.out())).isGreaterThan(peak(pose.out()) + 10);
    Outcome small = plan("--config", full.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "16GB");
    assertThat(small.code()).isEqualTo(2);
    assertThat(small.err()).contains("nothing tried fits").contains("a shorter spec.targetContextLength")
        .doesNotContain("trainingWindow");
  }

  private static double peak(String out) {
    Matcher m = Pattern.compile("peak +([0-9.]+) GiB").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void badArgumentsAreNamed() {
    Outcome size = plan("--config", SPEC.toString(), "--model-config", MISTRAL.toString(), "--gpu-memory", "lots");
    assertThat(size.code()).isEqualTo(2);
    assertThat(size.err()).contains("--gpu-memory: \"lots\" is not a size");
    Outcome missing = plan("--config", SPEC.toString(), "--model-config", "no/such/config.json");
    assertThat(missing.code()).isEqualTo(3);
    assertThat(missing.err()).contains("no/such/config.json: cannot be read");
  }
}
