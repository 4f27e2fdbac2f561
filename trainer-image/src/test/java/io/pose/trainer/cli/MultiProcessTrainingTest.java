package io.pose.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.pose.api.contract.TrainerContract.Env;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.SpecIO;
import io.pose.trainer.dist.World;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.stage.StageException;
import io.pose.trainer.stage.TrainStage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pose train} as the nodes of a CPU run: separate JVMs on this machine, each given the environment the
 * operator gives a training pod (POSE_NNODES, POSE_NODE_RANK, POSE_MASTER_ADDR/PORT), meeting over TCP and sharing a
 * workspace. They train like one process (the exported models agree), resume at another number of nodes and ZeRO
 * stage, and fail together, within the timeouts and naming the rank, when a node never comes or is killed.
 */
class MultiProcessTrainingTest {

  @TempDir
  static Path shared;

  @BeforeAll
  static void corpus() throws IOException {
    TrainCommandTest.shared = shared;
    TrainCommandTest.corpus();
  }

  /** 6 steps of 8 samples in micro-batches of 2: 4 micro-batches on 1 rank, 2 on 2 ranks, 1 on 4. */
  static String spec(int nodes, int zeroStage, int steps) {
    return spec(nodes, zeroStage, steps, 8);
  }

  static String spec(int nodes, int zeroStage, int steps, int globalBatch) {
    return """
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata:
          name: tiny-nodes
        spec:
          model:
            source: hf://tiny/llama
          targetContextLength: 256
          ropeScaling:
            type: yarn
          pose:
            trainingWindow: 32
            chunks: 2
          training:
            data:
              source: s3://bucket/corpus
              format: jsonl
            steps: %d
            globalBatchSize: %d
            microBatchSize: 2
            learningRate: 1.0e-2
            warmupSteps: 1
            precision: fp32
            zeroStage: %d
            activationCheckpointing: true
            checkpointEverySteps: 2
            keepCheckpoints: 2
          resources:
            nodes: %d
            gpusPerNode: 0
          storage:
            workspace:
              accessModes: [ReadWriteMany]
        """.formatted(steps, globalBatch, zeroStage, nodes);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** One node's `pose train`, its output in a file. */
  static Process node(Path config, Path workspace, int nodes, int rank, int port, Map<String, String> extra,
      String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
        "-Dai.djl.pytorch.num_interop_threads=1", "-Xmx1g", Pose.class.getName(), "train", "--config",
        config.toString(), "--workspace", workspace.toString(), "--progress", "lines", "--log-interval", "0"));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    Map<String, String> env = pb.environment();
    env.put(Env.NNODES, Integer.toString(nodes));
    env.put(Env.NODE_RANK, Integer.toString(rank));
    env.put(Env.MASTER_ADDR, "127.0.0.1");
    env.put(Env.MASTER_PORT, Integer.toString(port));
    env.put("DJL_OFFLINE", "true");
    env.put("OPT_OUT_TRACKING", "true");
    env.putAll(extra);
    Path log = workspace.resolve("node-" + rank + "-of-" + nodes + "-" + port + ".log");
    pb.redirectErrorStream(true).redirectOutput(log.toFile());
    return pb.start();
  }

  record Ended(int code, String output) {}

  static List<Ended> runNodes(Path config, Path workspace, int nodes, Map<String, String> env, String... args)
      throws Exception {
    int port = freePort();
    List<Process> processes = new ArrayList<>();
    for (int r = 0; r < nodes; r++) {
      processes.add(node(config, workspace, nodes, r, port, env, args));
    }
    List<Ended> out = new ArrayList<>();
    for (int r = 0; r < nodes; r++) {
      Process p = processes.get(r);
      if (!p.waitFor(5, TimeUnit.MINUTES)) {
        processes.forEach(Process::destroyForcibly);
        StringBuilder logs = new StringBuilder();
        for (int n = 0; n < nodes; n++) { // what each node was doing: the only trace of a hang
          Path log = workspace.resolve("node-" + n + "-of-" + nodes + "-" + port + ".log");
          List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
          logs.append("\n--- node ").append(n).append(" (last 15 lines) ---\n")
              .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
        }
        throw new AssertionError("node " + r + " did not end within 5 minutes" + logs);
      }
      out.add(new Ended(p.exitValue(), Files.readString(workspace.resolve("node-" + r + "-of-" + nodes + "-" + port + ".log"))));
    }
    return out;
  }

  static Map<String, float[]> weights(Path model) throws IOException {
    Map<String, float[]> out = new HashMap<>();
    try (Checkpoint c = Checkpoint.open(model)) {
      for (String name : c.tensors().keySet()) {
        out.put(name, c.floats(name));
      }
    }
    return out;
  }

  @Test
  void nodesTrainLikeOneProcessAndResumeOnMoreNodesAtAnotherStage(@TempDir Path tmp) throws Exception {
    // one process, one rank
    Path alone = TrainCommandTest.workspace(tmp.resolve("alone"));
    TrainCommandTest.Outcome single = TrainCommandTest.pose(TrainCommandTest.config(tmp, spec(1, 0, 6)), alone);
    assertThat(single.code()).as(single.err()).isZero();

    // two nodes at ZeRO 3 stop after step 4; four nodes at ZeRO 2 resume from their checkpoint and finish
    Path ws = TrainCommandTest.workspace(tmp.resolve("nodes"));
    List<Ended> two = runNodes(TrainCommandTest.config(tmp, spec(2, 3, 6)), ws, 2, Map.of(), "--stop-after-steps", "4");
    for (Ended e : two) {
      assertThat(e.code()).as(e.output()).isZero();
    }
    assertThat(two.get(0).output()).contains("ranks: 2 = 2 nodes x 1 CPU rank, ZeRO stage 3 (TCP between the nodes)")
        .contains("tokenized 24 documents").contains("step 4/6").contains("stopped after step 4 of 6");
    assertThat(two.get(1).output()).doesNotContain("tokenized").doesNotContain("step 4/6");
    assertThat(TrainCommandTest.names(ws.resolve("checkpoints/step-00000004"))).containsExactly(
        "shard-00000-of-00002.safetensors", "shard-00001-of-00002.safetensors", "trainer_state.json");

    List<Ended> four = runNodes(TrainCommandTest.config(tmp, spec(4, 2, 6)), ws, 4, Map.of());
    for (Ended e : four) {
      assertThat(e.code()).as(e.output()).isZero();
    }
    assertThat(four.get(0).output()).contains("written by 2 ranks at ZeRO 3, re-sharded for 4 ranks at ZeRO 2")
        .contains("step 5/6").contains("step 6/6").doesNotContain("step 4/6").contains("wrote the extended model");

    Map<String, float[]> expected = weights(alone.resolve("extended-model"));
    Map<String, float[]> actual = weights(ws.resolve("extended-model"));
    assertThat(actual.keySet()).isEqualTo(expected.keySet());
    for (String name : expected.keySet()) {
      float[] a = actual.get(name);
      float[] e = expected.get(name);
      for (int i = 0; i < e.length; i++) {
        // the gradients are summed over 4 ranks and 2 micro-batches here, over 4 micro-batches there
        assertThat(a[i]).as("%s[%d]", name, i).isCloseTo(e[i], offset(1e-4f));
      }
    }
    assertThat(Files.readString(ws.resolve("extended-model/config.json")))
        .isEqualTo(Files.readString(alone.resolve("extended-model/config.json")));
  }

  @Test
  void aKilledNodeFailsTheOthersAtOnceNamingItsRank(@TempDir Path tmp) throws Exception {
    Path ws = TrainCommandTest.workspace(tmp.resolve("killed"));
    Path config = TrainCommandTest.config(tmp, spec(2, 3, 100_000));
    int port = freePort();
    Map<String, String> env = Map.of(World.COLLECTIVE_TIMEOUT, "60");
    Process node0 = node(config, ws, 2, 0, port, env);
    Process node1 = node(config, ws, 2, 1, port, env);
    Path log0 = ws.resolve("node-0-of-2-" + port + ".log");
    long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
    while (!Files.readString(log0).contains("step 3/")) {
      assertThat(node0.isAlive()).as(Files.readString(log0)).isTrue();
      assertThat(System.nanoTime()).as("node 0 reaches step 3").isLessThan(deadline);
      Thread.sleep(100);
    }
    long killed = System.nanoTime();
    node1.destroyForcibly(); // SIGKILL: no goodbye
    assertThat(node0.waitFor(60, TimeUnit.SECONDS)).as("node 0 ends within the collective timeout").isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - killed)).as("at once, not at the timeout")
        .isLessThan(Duration.ofSeconds(30));
    assertThat(node0.exitValue()).as("a runtime failure: the Job restarts the pods, which resume").isEqualTo(1);
    assertThat(Files.readString(log0)).contains("rank 1 closed its connection").contains("(exit 1: RuntimeFailure)");
  }

  @Test
  void aNodeThatNeverComesFailsTheRendezvousNamingIt(@TempDir Path tmp) throws Exception {
    Path ws = TrainCommandTest.workspace(tmp.resolve("alone"));
    Path config = TrainCommandTest.config(tmp, spec(3, 3, 6, 12));
    int port = freePort();
    Map<String, String> env = Map.of(World.RENDEZVOUS_TIMEOUT, "5");
    Process node0 = node(config, ws, 3, 0, port, env);
    Process node2 = node(config, ws, 3, 2, port, env);
    assertThat(node0.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(node2.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(node0.exitValue()).isEqualTo(1);
    assertThat(node2.exitValue()).isEqualTo(1);
    assertThat(Files.readString(ws.resolve("node-0-of-3-" + port + ".log"))).contains("missing rank 1");
    assertThat(Files.readString(ws.resolve("node-2-of-3-" + port + ".log"))).contains("missing rank 1");
  }

  static StageException trainIn(Path tmp, String spec, Map<String, String> env) throws Exception {
    Path ws = TrainCommandTest.workspace(tmp.resolve("ws-" + Math.abs(spec.hashCode() + env.hashCode())));
    ContextExtension resource = SpecIO.read(TrainCommandTest.config(tmp, spec));
    try {
      TrainStage.run(resource, new TrainStage.Options(ws, null, new PrintWriter(new StringWriter()), List.of(), null, env));
    } catch (StageException e) {
      return e;
    }
    throw new AssertionError("the stage ran");
  }

  @Test
  void anEnvironmentThatContradictsTheSpecIsAConfigurationError(@TempDir Path tmp) throws Exception {
    StageException e = trainIn(tmp, spec(2, 3, 6), Map.of(Env.NNODES, "3", Env.NODE_RANK, "0", Env.MASTER_ADDR, "x"));
    assertThat(e.exitCode().code()).isEqualTo(2);
    assertThat(e.getMessage()).contains("spec.resources.nodes is 2, but POSE_NNODES is 3");
    e = trainIn(tmp, spec(2, 3, 6), Map.of());
    assertThat(e.exitCode().code()).isEqualTo(2);
    assertThat(e.getMessage()).contains("started without POSE_NNODES");
    e = trainIn(tmp, spec(2, 3, 6), Map.of(Env.NNODES, "2", Env.NODE_RANK, "2", Env.MASTER_ADDR, "x"));
    assertThat(e.getMessage()).contains("POSE_NODE_RANK is 2, outside [0, 2)");
  }

  @Test
  void gpusAskedForButAbsentFailAtOnceInsteadOfTrainingOnTheCpu(@TempDir Path tmp) throws Exception {
    String spec = spec(1, 3, 6).replace("gpusPerNode: 0", "gpusPerNode: 2");
    StageException e = trainIn(tmp, spec, Map.of());
    assertThat(e.exitCode().code()).isEqualTo(3);
    assertThat(e.getMessage()).contains("spec.resources.gpusPerNode asks for 2 GPUs per node")
        .contains("sees 0").contains("never falls back to the CPU");
  }

  @Test
  void aWorldThatDoesNotDivideTheBatchIsAConfigurationError(@TempDir Path tmp) throws Exception {
    // the CEL rule counts one rank per CPU node: 8 is a multiple of 2 x 2 nodes, not of 2 x 3
    StageException e = trainIn(tmp, spec(3, 3, 6), Map.of(Env.NNODES, "3", Env.NODE_RANK, "0", Env.MASTER_ADDR, "x"));
    assertThat(e.exitCode().code()).isEqualTo(2);
    assertThat(e.getMessage()).contains("globalBatchSize");
  }
}
