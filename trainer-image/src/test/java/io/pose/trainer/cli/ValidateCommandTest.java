package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pose validate -f}: rules and defaults without a cluster or a model, one line when valid. */
class ValidateCommandTest {
  static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @TempDir
  Path tmp;

  record Outcome(int code, String out, String err) {}

  static Outcome validate(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 1];
    all[0] = "validate";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), all);
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void aValidSpecIsOneLineWithItsDefaults() {
    Outcome o = validate("-f", REPO.resolve("examples/tiny-pose.yaml").toString());
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out().lines()).hasSize(1);
    assertThat(o.out()).startsWith("valid: tiny-pose: 128 -> 512 tokens, yarn x4, pose window 128, 2 chunks; "
        + "300 steps x 16 samples, lr 0.001, fp32, ZeRO 0; CPU; eval: passkey at [128, 256, 384, 512], perplexity at "
        + "[128, 512]; publish: file://" + REPO.resolve(".pose/published/tiny-pose"));
    assertThat(o.err()).isEmpty();
  }

  @Test
  void theBaselinesAreDescribedByTheirOwnSamples() throws IOException {
    // chunks apply only to PoSE
    String spec = Files.readString(REPO.resolve("examples/tiny-pose.yaml")).replaceFirst("(?m)^    chunks: 2\n", "");
    Path full = tmp.resolve("full.yaml");
    Files.writeString(full, spec.replaceFirst("(?m)^  pose:\n", "  pose:\n    method: full\n"));
    assertThat(validate("-f", full.toString()).out()).contains("yarn x4, full (samples of up to the target length); ");
    Path randpos = tmp.resolve("randpos.yaml");
    Files.writeString(randpos, spec.replaceFirst("(?m)^  pose:\n", "  pose:\n    method: randpos\n"));
    assertThat(validate("-f", randpos.toString()).out()).contains("yarn x4, randpos window 128; ");
  }

  @Test
  void withoutTheOriginalContextItSaysWhatItCouldNotCheck() {
    Outcome o = validate("-f", REPO.resolve("examples/llama2-7b-16k.yaml").toString());
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("? -> 16384 tokens").contains("were not checked: pass --original-context-length");
  }

  @Test
  void theYamlWithEveryDefault() {
    Outcome o = validate("-f", REPO.resolve("examples/mistral-32k.yaml").toString(), "-o", "yaml");
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("kind: ContextExtension").contains("factor: 4").contains("seed:");
  }

  @Test
  void everyBrokenRuleIsListedWithItsField() throws IOException {
    Path spec = tmp.resolve("bad.yaml");
    Files.writeString(spec, Files.readString(REPO.resolve("examples/tiny-pose.yaml"))
        .replace("targetContextLength: 512", "targetContextLength: 100")
        .replace("globalBatchSize: 16", "globalBatchSize: 15"));
    Outcome o = validate("-f", spec.toString());
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.out()).isEmpty();
    assertThat(o.err()).contains("breaks").contains("spec.targetContextLength").contains("(exit 2");
  }

  @Test
  void theModelsContextChecksTheRulesThatNeedIt() {
    Outcome o = validate("-f", REPO.resolve("examples/llama2-7b-16k.yaml").toString(), "--original-context-length",
        "32768");
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.err()).contains("spec.targetContextLength").contains("the model's original context length 32768");
    assertThat(validate("-f", REPO.resolve("examples/llama2-7b-16k.yaml").toString(), "--original-context-length",
        "4096").out()).startsWith("valid: llama2-7b-16k: 4096 -> 16384 tokens");
  }

  @Test
  void aYamlErrorNamesLineAndColumnAndAMissingFileItsPath() throws IOException {
    Path spec = tmp.resolve("broken.yaml");
    Files.writeString(spec, "apiVersion: pose.io/v1alpha1\nkind: ContextExtension\nspec: {model: {source: x}\n"
        + "  target: 3\n");
    Outcome o = validate("-f", spec.toString());
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.err()).contains(spec + ":4:3: not valid YAML");
    Outcome missing = validate("-f", tmp.resolve("nothing.yaml").toString());
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains(tmp.resolve("nothing.yaml") + ": no such file");
  }
}
