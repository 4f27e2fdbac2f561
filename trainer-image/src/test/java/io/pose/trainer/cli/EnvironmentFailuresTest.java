package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The environment failing as a user meets it, through the real `pose` in a process of its own: a read-only
 * workspace, a disk that fills during fetch and during training (small tmpfs mounts in a mount namespace: as root, or
 * in a user namespace otherwise), and no server where the Hub should be. Each ends with the contract's exit code and
 * one or two lines naming the cause, never a stack trace, and leaves nothing half-written behind.
 */
class EnvironmentFailuresTest {
  static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @TempDir
  static Path shared;

  static Path spec;

  record Outcome(int code, String out, String err) {}

  @BeforeAll
  static void spec() throws IOException {
    // the embedded example, 4 steps, publishing into the workspace
    Path tiny = REPO.resolve("examples/tiny");
    spec = shared.resolve("tiny.yaml");
    Files.writeString(spec, Files.readString(REPO.resolve("examples/tiny-pose.yaml"))
        .replace("file:tiny/", "file://" + tiny + "/")
        .replace("    steps: 300", "    steps: 4").replace("warmupSteps: 20", "warmupSteps: 1")
        .replace("checkpointEverySteps: 100", "checkpointEverySteps: 2")
        .replace("file:../.pose/published/tiny-pose", "file://" + shared.resolve("published")));
  }

  @Test
  void aReadOnlyWorkspaceIsNamedAndNotCalledResumable(@TempDir Path tmp) throws Exception {
    Path ws = Files.createDirectories(tmp.resolve("ws"));
    Outcome o = poseOn(ws, "ro,size=1m", "run", "-f", spec.toString(), "--workspace", ws.toString(), "--progress",
        "none");
    assertThat(o.code()).as(o.err()).isEqualTo(3);
    assertThat(o.err()).contains(ws.toString()).contains("read-only file system").contains("writable --workspace")
        .doesNotContain("resume");
    assertShort(o);
  }

  @Test
  void aDiskThatFillsDuringFetchSaysSoAndLeavesNoPartialDirectories(@TempDir Path tmp) throws Exception {
    Path ws = Files.createDirectories(tmp.resolve("ws"));
    // the base model alone is 3.5 MB
    Outcome o = poseOn(ws, "size=1m", "fetch", "--config", spec.toString(), "--workspace", ws.toString());
    assertThat(o.code()).as(o.err()).isEqualTo(1);
    assertThat(o.err()).contains("no space left on device writing " + ws).contains("MiB free")
        .contains("free space or choose another --workspace");
    assertShort(o);
    assertThat(Files.readAllLines(listing(ws, "empty"))).as("empty directories left").isEmpty();
  }

  @Test
  void aDiskThatFillsDuringTrainingSaysSoAndThatARunResumes(@TempDir Path tmp) throws Exception {
    Path ws = Files.createDirectories(tmp.resolve("ws"));
    // room for the fetched model and data (about 4 MB), not for a checkpoint with its optimizer state (10 MB)
    Outcome o = poseOn(ws, "size=7m", "run", "-f", spec.toString(), "--workspace", ws.toString(), "--progress",
        "none");
    assertThat(o.code()).as(o.out() + o.err()).isEqualTo(1);
    assertThat(o.out()).contains("== train ==");
    assertThat(o.err()).contains("no space left on device writing " + ws.resolve("checkpoints"))
        .contains("run again: it resumes");
    assertShort(o);
    assertThat(Files.readAllLines(listing(ws, "files"))).as("the files the run left")
        .anyMatch(f -> f.endsWith("base-model/model.safetensors"))
        .noneMatch(f -> f.contains("/checkpoints/") && f.endsWith(".partial"));
  }

  @Test
  void noServerWhereTheHubShouldBeNamesTheHostAndTriesBriefly(@TempDir Path tmp) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    } // closed: nothing listens there now
    Path hub = tmp.resolve("hub.yaml");
    Files.writeString(hub, Files.readString(spec).replaceFirst("source: file://\\S+/base-model",
        "source: hf://HuggingFaceTB/SmolLM2-135M"));
    Path ws = Files.createDirectories(tmp.resolve("ws"));
    Outcome o = pose(List.of(), "http://127.0.0.1:" + port, "fetch", "--config", hub.toString(), "--workspace",
        ws.toString());
    assertThat(o.code()).as(o.err()).isEqualTo(1);
    assertThat(o.err()).contains("connection refused").contains("127.0.0.1:" + port)
        .contains("check the network, the endpoint and any proxy");
    // each retry is one line naming the host and the next delay
    List<String> retries = o.err().lines().filter(l -> l.contains("try 2 of")).toList();
    assertThat(retries).hasSize(1);
    assertThat(retries.get(0)).contains("127.0.0.1:" + port).contains(" ms");
    assertShort(o);
  }

  @Test
  void debugPrintsTheStackTrace(@TempDir Path tmp) throws Exception {
    Path hub = tmp.resolve("hub.yaml");
    Files.writeString(hub, Files.readString(spec).replaceFirst("source: file://\\S+/base-model",
        "source: hf://HuggingFaceTB/SmolLM2-135M"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Outcome o = pose(List.of(), "http://127.0.0.1:" + port, "fetch", "--debug", "--config", hub.toString(),
        "--workspace", tmp.resolve("ws").toString());
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.err()).contains("connection refused").contains("\tat ");
  }

  /** No stack trace, and the error itself in at most two lines. */
  static void assertShort(Outcome o) {
    assertThat(o.err()).doesNotContain("\tat ").doesNotContain("Exception in thread");
    List<String> error = o.err().lines().dropWhile(l -> !l.startsWith("error: ")).toList();
    assertThat(error).as(o.err()).hasSizeBetween(1, 2);
  }

  /** What the run left on its tmpfs (which only its mount namespace sees): "files", or "empty" directories. */
  private static Path listing(Path dir, String kind) {
    return dir.resolveSibling(dir.getFileName() + "." + kind);
  }

  /**
   * `pose` with a tmpfs of the given options mounted at dir, in a mount namespace of its own; what it leaves there is
   * listed into dir.files and dir.empty beside it before the namespace ends.
   */
  static Outcome poseOn(Path dir, String tmpfsOptions, String... args) throws Exception {
    List<String> wrapper = new ArrayList<>(List.of("unshare", "--mount", "--fork"));
    if (!"root".equals(System.getProperty("user.name"))) {
      wrapper.addAll(1, List.of("--user", "--map-root-user"));
    }
    wrapper.addAll(List.of("sh", "-c", "mount -t tmpfs -o " + tmpfsOptions + " pose-test \"$0\" || exit 99; \"$@\"; "
        + "rc=$?; find \"$0\" -type f > \"$0.files\"; find \"$0\" -type d -empty > \"$0.empty\"; exit $rc",
        dir.toString()));
    return pose(wrapper, null, args);
  }

  static Outcome pose(List<String> wrapper, String hub, String... args) throws Exception {
    List<String> command = new ArrayList<>(wrapper);
    command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Dai.djl.pytorch.num_threads=1", Pose.class.getName()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("POSE_HTTP_ATTEMPTS", "2");
    if (hub != null) {
      pb.environment().put("HF_ENDPOINT", hub);
    }
    Path out = Files.createTempFile("pose-out", ".txt");
    Path err = Files.createTempFile("pose-err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("pose did not finish: " + String.join(" ", args));
    }
    try {
      return new Outcome(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
