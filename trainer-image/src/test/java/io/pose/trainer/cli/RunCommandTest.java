package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.progress.EvaluationResults;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pose run -f}: the whole pipeline in one process from local sources: fetched, trained, evaluated and
 * published; a second run resumes from what the first left (cache, checkpoints) and publishes the same model; a
 * quality gate that fails stops before anything is published, with the stage named and its exit code.
 */
class RunCommandTest {

  @TempDir
  Path tmp;

  record Outcome(int code, String out, String err) {}

  static Outcome run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 1];
    all[0] = "run";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = Pose.execute(new PrintWriter(out, true), new PrintWriter(err, true), all);
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void runsThePipelineAndResumes() throws IOException {
    Path src = FetchCommandTest.sources(tmp);
    Path spec = TrainCommandTest.config(tmp, FetchCommandTest.spec(src, "file://" + src + "/llama"));
    Path ws = tmp.resolve("ws");
    Outcome o = run("-f", spec.toString(), "--workspace", ws.toString(), "--progress", "none", "--block", "64");
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("== fetch ==", "== train ==", "== eval ==", "== publish ==")
        .contains("done: file://" + src + "/published");
    assertThat(src.resolve("published/model.safetensors")).isRegularFile();
    assertThat(src.resolve("published/eval/results.json")).isRegularFile();
    EvaluationResults r = new com.fasterxml.jackson.databind.ObjectMapper()
        .readValue(src.resolve("published/eval/results.json").toFile(), EvaluationResults.class);
    assertThat(r.getCompleted()).isTrue();
    byte[] model = Files.readAllBytes(src.resolve("published/model.safetensors"));

    Outcome again = run("-f", spec.toString(), "--workspace", ws.toString(), "--progress", "none", "--block", "64");
    assertThat(again.code()).as(again.err()).isZero();
    assertThat(again.out()).contains("in the cache").contains("nothing to do").doesNotContain("tokenized");
    assertThat(Files.readAllBytes(src.resolve("published/model.safetensors"))).isEqualTo(model);

    // the training plot beside the evaluation's, linked from its tables and shown in the model card
    assertThat(src.resolve("published/eval/training.png")).isRegularFile();
    assertThat(Files.readString(src.resolve("published/eval/results.md"))).contains("[training.png](training.png)");
    assertThat(Files.readString(src.resolve("published/README.md"))).contains("[training.png](eval/training.png)")
        .contains("(eval/training.png)");
    // every file of the workspace and of the published model is as readable as any file made here (no 0600)
    Set<PosixFilePermission> usual = Files.getPosixFilePermissions(Files.createFile(tmp.resolve("usual")));
    try (Stream<Path> files = Stream.concat(Files.walk(ws), Files.walk(src.resolve("published")))) {
      assertThat(files.filter(Files::isRegularFile).toList()).isNotEmpty().allSatisfy(f ->
          assertThat(Files.getPosixFilePermissions(f)).as(f.toString()).containsAll(usual.stream()
              .filter(p -> p.name().endsWith("_READ")).toList()));
    }
  }

  @Test
  void stopsAfterTheAskedStepAndResumesThere() throws IOException {
    Path src = FetchCommandTest.sources(tmp);
    Path spec = TrainCommandTest.config(tmp, FetchCommandTest.spec(src, "file://" + src + "/llama"));
    Path ws = tmp.resolve("ws");
    Outcome o = run("-f", spec.toString(), "--workspace", ws.toString(), "--progress", "lines", "--log-interval", "0",
        "--stop-after-steps", "2");
    assertThat(o.code()).as(o.err()).isZero();
    assertThat(o.out()).contains("step 1/").contains("step 2/").doesNotContain("step 3/").doesNotContain("== eval ==")
        .contains("stopped after step 2 of ").contains("run again to resume");
    assertThat(src.resolve("published")).doesNotExist();
    Outcome rest = run("-f", spec.toString(), "--workspace", ws.toString(), "--progress", "none", "--block", "64");
    assertThat(rest.code()).as(rest.err()).isZero();
    assertThat(rest.out()).contains("resuming from").contains("== publish ==");
  }

  @Test
  void aFailedQualityGateNamesTheStageAndPublishesNothing() throws IOException {
    Path src = FetchCommandTest.sources(tmp);
    String text = FetchCommandTest.spec(src, "file://" + src + "/llama")
        .replace("    target: file://" + src + "/published\n",
            "    target: file://" + src + "/published\n    requirePasskeyAccuracy: 1.0\n");
    Path spec = TrainCommandTest.config(tmp, text);
    Outcome o = run("-f", spec.toString(), "--workspace", tmp.resolve("ws").toString(), "--progress", "none");
    // a random tiny model does not retrieve every key at 256 tokens
    assertThat(o.code()).as(o.out() + o.err()).isEqualTo(ExitCode.QUALITY_GATE_FAILED.code());
    assertThat(o.out()).contains("== eval ==").contains("passkey accuracy at 256 tokens");
    assertThat(o.err()).contains("publish: quality gate: passkey accuracy at 256 tokens is")
        .contains("below spec.publish.requirePasskeyAccuracy 1.0");
    assertThat(src.resolve("published")).doesNotExist();
  }
}
