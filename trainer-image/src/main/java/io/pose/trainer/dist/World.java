package io.pose.trainer.dist;

import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where this process stands in a run: one JVM per node, one rank per GPU (or one CPU rank per node), global rank =
 * node rank x ranks per node + local rank. Read from the environment the operator sets on the training Job's pods
 * (POSE_NNODES, POSE_NODE_RANK from the Indexed Job's completion index, POSE_MASTER_ADDR/PORT, with the torchrun and
 * Kubeflow names as fallbacks); a process started by hand without them is the only node. The spec decides the GPUs
 * per node; the environment must agree with it on the number of nodes.
 *
 * @param nodes processes (pods) in the run
 * @param nodeRank this process's index among them
 * @param ranksPerNode ranks this process runs (its GPUs, or 1 on CPU)
 * @param gpus whether the ranks are GPUs
 * @param masterAddress where rank 0 listens for the rendezvous
 * @param masterPort the rendezvous port
 * @param rendezvousTimeout how long ranks wait for each other to join
 * @param operationTimeout how long a collective waits for a peer
 */
public record World(int nodes, int nodeRank, int ranksPerNode, boolean gpus, String masterAddress, int masterPort,
    Duration rendezvousTimeout, Duration operationTimeout) {

  /** Seconds ranks wait for each other to join (pods of a multi-node Job can start minutes apart). */
  public static final String RENDEZVOUS_TIMEOUT = "POSE_RENDEZVOUS_TIMEOUT";
  /** Seconds a collective waits for a peer before the run fails (a hung or unreachable rank). */
  public static final String COLLECTIVE_TIMEOUT = "POSE_COLLECTIVE_TIMEOUT";
  public static final Duration DEFAULT_RENDEZVOUS_TIMEOUT = Duration.ofMinutes(15);
  public static final Duration DEFAULT_COLLECTIVE_TIMEOUT = Duration.ofMinutes(10);

  /** A single process with one rank on CPU (tests, laptops). */
  public static World single() {
    return new World(1, 0, 1, false, "127.0.0.1", TrainerContract.MASTER_PORT, DEFAULT_RENDEZVOUS_TIMEOUT,
        DEFAULT_COLLECTIVE_TIMEOUT);
  }

  /** Ranks in the run. */
  public int size() {
    return nodes * ranksPerNode;
  }

  /** The global rank of one of this process's ranks. */
  public int globalRank(int localRank) {
    return nodeRank * ranksPerNode + localRank;
  }

  /** A configuration problem: the spec's field (or the variable) and the rule. */
  public static final class InvalidWorldException extends RuntimeException {
    public InvalidWorldException(String message) {
      super(message);
    }
  }

  /**
   * The world of this process.
   *
   * @param env the process environment
   * @param specNodes spec.resources.nodes
   * @param specGpusPerNode spec.resources.gpusPerNode (0: CPU)
   * @throws InvalidWorldException when the environment and the spec disagree, or a variable is malformed
   */
  public static World fromEnvironment(Map<String, String> env, int specNodes, int specGpusPerNode) {
    List<String> problems = new ArrayList<>();
    Integer nodes = integer(env, problems, Env.NNODES, Env.PET_NNODES);
    Integer nodeRank = integer(env, problems, Env.NODE_RANK, Env.TORCH_NODE_RANK, Env.PET_NODE_RANK,
        "JOB_COMPLETION_INDEX");
    Integer port = integer(env, problems, Env.MASTER_PORT, Env.TORCH_MASTER_PORT, Env.PET_MASTER_PORT);
    String master = first(env, Env.MASTER_ADDR, Env.TORCH_MASTER_ADDR, Env.PET_MASTER_ADDR);
    Duration rendezvous = seconds(env, problems, RENDEZVOUS_TIMEOUT, DEFAULT_RENDEZVOUS_TIMEOUT);
    Duration operations = seconds(env, problems, COLLECTIVE_TIMEOUT, DEFAULT_COLLECTIVE_TIMEOUT);
    if (nodes == null) {
      if (specNodes > 1) {
        problems.add("spec.resources.nodes is " + specNodes + ", but this process was started without " + Env.NNODES
            + " and " + Env.NODE_RANK + " (the operator sets them on every node's pod): run one `pose train` per node "
            + "with them, or set spec.resources.nodes to 1");
      }
      nodes = 1;
    } else if (nodes != specNodes) {
      problems.add("spec.resources.nodes is " + specNodes + ", but " + Env.NNODES + " is " + nodes
          + ": the pods must run the spec they were created for");
    }
    if (nodeRank == null) {
      nodeRank = 0;
    }
    if (nodeRank < 0 || nodeRank >= nodes) {
      problems.add(Env.NODE_RANK + " is " + nodeRank + ", outside [0, " + nodes + ")");
    }
    if (port != null && (port < 1 || port > 65535)) {
      problems.add(Env.MASTER_PORT + " is " + port + ", not a TCP port");
    }
    if (nodes > 1 && master == null) {
      problems.add(Env.MASTER_ADDR + " is not set: the ranks of a multi-node run meet at rank 0's address");
    }
    if (!problems.isEmpty()) {
      throw new InvalidWorldException(String.join("; ", problems));
    }
    return new World(nodes, nodeRank, specGpusPerNode > 0 ? specGpusPerNode : 1, specGpusPerNode > 0,
        master == null ? "127.0.0.1" : master, port == null ? TrainerContract.MASTER_PORT : port, rendezvous, operations);
  }

  private static String first(Map<String, String> env, String... names) {
    for (String n : names) {
      String v = env.get(n);
      if (v != null && !v.isBlank()) {
        return v.trim();
      }
    }
    return null;
  }

  private static Integer integer(Map<String, String> env, List<String> problems, String... names) {
    for (String n : names) {
      String v = env.get(n);
      if (v != null && !v.isBlank()) {
        try {
          return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
          problems.add(n + " is \"" + v + "\", not an integer");
          return null;
        }
      }
    }
    return null;
  }

  private static Duration seconds(Map<String, String> env, List<String> problems, String name, Duration fallback) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      return fallback;
    }
    try {
      double s = Double.parseDouble(v.trim());
      if (!(s > 0)) {
        throw new NumberFormatException();
      }
      return Duration.ofMillis((long) (s * 1000));
    } catch (NumberFormatException e) {
      problems.add(name + " is \"" + v + "\", not a positive number of seconds");
      return fallback;
    }
  }
}
