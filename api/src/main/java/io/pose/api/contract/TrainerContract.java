package io.pose.api.contract;

import io.pose.api.v1alpha1.Stage;
import java.util.List;

/**
 * The contract between the operator and the trainer image: how a stage pod is started, what it finds in
 * its environment and file system, and what its exit code means. docs/trainer-contract.md explains it;
 * both sides use these constants.
 *
 * <p>A stage pod runs {@code pose <stage> --config /etc/pose/config.yaml}, where the config file is the
 * ContextExtension itself (apiVersion, kind, metadata, spec) as rendered into the ConfigMap
 * {@code <name>-config}. {@code pose run -f <file>} reads the same document.
 */
public final class TrainerContract {
  private TrainerContract() {}

  /** The trainer's executable in the image. */
  public static final String EXECUTABLE = "pose";
  public static final String CONFIG_FLAG = "--config";

  /** Where the rendered ContextExtension is mounted, and its file name. */
  public static final String CONFIG_DIR = "/etc/pose";
  public static final String CONFIG_FILE_NAME = "config.yaml";
  public static final String CONFIG_PATH = CONFIG_DIR + "/" + CONFIG_FILE_NAME;

  /** The workspace volume's mount point (base model, data, checkpoints, extended model, results). */
  public static final String WORKSPACE_DIR = "/workspace";
  /** Each referenced Secret is mounted read-only at {@code SECRETS_DIR/<secret name>/}. */
  public static final String SECRETS_DIR = "/var/run/secrets/pose";
  public static final String SHM_DIR = "/dev/shm";
  /**
   * Where a stage pod finds a PersistentVolumeClaim other than the workspace that a {@code pvc://claim/path} source
   * or target names: {@code PVC_DIR/<claim>/}. The workspace's own claim is read at {@link #WORKSPACE_DIR}.
   */
  public static final String PVC_DIR = "/mnt/pvc";

  /**
   * Where each stage reads and writes inside the workspace, so that every stage (and {@code pose run}) agrees
   * without passing paths around.
   */
  public static final class Workspace {
    private Workspace() {}

    /** The fetched base model (a Hugging Face model directory). */
    public static final String BASE_MODEL = "base-model";
    /** Fetched training data; tokenized once into {@link #TRAINING_TOKENS}. */
    public static final String TRAINING_DATA = "data/training";
    /** The training corpus as a token file (written on first use when the data is text). */
    public static final String TRAINING_TOKENS = "data/training.tokens";
    /** Training checkpoints (step-NNNNNNNN directories). */
    public static final String CHECKPOINTS = "checkpoints";
    /** The extended model the Train stage writes (a Hugging Face model directory). */
    public static final String EXTENDED_MODEL = "extended-model";
    /**
     * Fetched evaluation data: {@code data/eval/perplexity} (spec.evaluation.perplexity.data) and
     * {@code data/eval/benchmarks/<task name>} (each spec.evaluation.benchmarks[].data).
     */
    public static final String EVAL_DATA = "data/eval";
    public static final String EVAL_PERPLEXITY_DATA = EVAL_DATA + "/perplexity";
    public static final String EVAL_BENCHMARK_DATA = EVAL_DATA + "/benchmarks";
    /** What the Evaluate stage writes: results.json, results.md and the plots. */
    public static final String EVAL_RESULTS = "eval";
    /** JSON-lines logs of the stages. */
    public static final String LOGS = "logs";
  }

  /** The command line of a stage: {@code pose <stage> --config /etc/pose/config.yaml}. */
  public static List<String> command(Stage stage) {
    return List.of(EXECUTABLE, stage.command(), CONFIG_FLAG, CONFIG_PATH);
  }

  /**
   * A stage container's {@code args}: the command line without the executable, which is the image's ENTRYPOINT (the
   * pose-trainer image runs java directly, with no shell and no {@code pose} file on the PATH).
   */
  public static List<String> args(Stage stage) {
    return command(stage).subList(1, 4);
  }

  /**
   * The pose-trainer image's user and group (a fixed non-root id, distroless's "nonroot"). Stage pods run with it as
   * their fsGroup, so a fresh workspace volume is writable by the trainer.
   */
  public static final long IMAGE_USER = 65532;

  /** Environment variables every stage pod receives. */
  public static final class Env {
    private Env() {}

    /** The stage being run: fetch, train, eval or publish. */
    public static final String STAGE = "POSE_STAGE";
    public static final String CONFIG = "POSE_CONFIG";
    public static final String WORKSPACE = "POSE_WORKSPACE";
    public static final String SECRETS_DIR = "POSE_SECRETS_DIR";
    /** The ContextExtension's namespace and name. */
    public static final String NAMESPACE = "POSE_NAMESPACE";
    public static final String NAME = "POSE_NAME";
    /** The progress ConfigMap to report into (see ProgressProtocol). */
    public static final String PROGRESS_CONFIGMAP = "POSE_PROGRESS_CONFIGMAP";
    /** The pod's name, for log lines and the progress documents. */
    public static final String POD_NAME = "POSE_POD_NAME";
    /**
     * The workspace as a URI, {@code pvc://<claim>}: stages report the locations they write under it
     * ({@code pvc://<claim>/extended-model}).
     */
    public static final String WORKSPACE_URI = "POSE_WORKSPACE_URI";
    /** Training pods: the port of the trainer's Prometheus endpoint ({@code GET /metrics}). */
    public static final String METRICS_PORT = "POSE_METRICS_PORT";

    // Rendezvous (training stage). Our trainer runs one JVM per node and one thread per GPU.
    public static final String NNODES = "POSE_NNODES";
    public static final String NODE_RANK = "POSE_NODE_RANK";
    public static final String GPUS_PER_NODE = "POSE_GPUS_PER_NODE";
    public static final String MASTER_ADDR = "POSE_MASTER_ADDR";
    public static final String MASTER_PORT = "POSE_MASTER_PORT";

    // The same facts under the names torchrun and Kubeflow Trainer use, for tools that read those.
    /** torchrun: total number of worker processes (nodes x GPUs per node). */
    public static final String TORCH_WORLD_SIZE = "WORLD_SIZE";
    public static final String TORCH_LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE";
    public static final String TORCH_MASTER_ADDR = "MASTER_ADDR";
    public static final String TORCH_MASTER_PORT = "MASTER_PORT";
    public static final String TORCH_NODE_RANK = "NODE_RANK";
    public static final String PET_NNODES = "PET_NNODES";
    public static final String PET_NPROC_PER_NODE = "PET_NPROC_PER_NODE";
    public static final String PET_NODE_RANK = "PET_NODE_RANK";
    public static final String PET_MASTER_ADDR = "PET_MASTER_ADDR";
    public static final String PET_MASTER_PORT = "PET_MASTER_PORT";
  }

  /** The rendezvous port (the PyTorch and Kubeflow convention). */
  public static final int MASTER_PORT = 29500;

  /** The trainer's Prometheus endpoint in training pods (container port named {@code metrics}). */
  public static final int METRICS_PORT = 9400;

  /**
   * Exit codes of {@code pose <stage>}. Codes 2 to 5 mean that retrying cannot help: the training Job's
   * podFailurePolicy fails the Job at once on them instead of spending its restart budget.
   */
  public enum ExitCode {
    OK(0, "Succeeded"),
    /** Anything that may work on retry: a crash, an NCCL timeout, a network error. */
    RUNTIME_FAILURE(1, "RuntimeFailure"),
    /** The configuration is invalid (also picocli's usage-error code). */
    INVALID_CONFIGURATION(2, "InvalidConfiguration"),
    /** An input is missing or unreadable: the model, the data, a corrupt checkpoint. */
    MISSING_INPUT(3, "MissingInput"),
    /** Credentials are missing or were rejected by the source or target. */
    CREDENTIALS_REJECTED(4, "CredentialsRejected"),
    /** The quality gate failed: passkey accuracy below spec.publish.requirePasskeyAccuracy. */
    QUALITY_GATE_FAILED(5, "QualityGateFailed");

    private final int code;
    private final String reason;

    ExitCode(int code, String reason) {
      this.code = code;
      this.reason = reason;
    }

    public int code() { return code; }

    /**
     * CamelCase name of the failure, used in messages and events (the condition reason stays
     * {@code <Stage>Failed}, stable for alerts).
     */
    public String reason() { return reason; }

    /** True when a retry cannot help. */
    public boolean permanent() { return code >= 2; }

    /** The exit code with this number, if it is one of the contract's. */
    public static java.util.Optional<ExitCode> of(int code) {
      for (ExitCode c : values()) {
        if (c.code == code) {
          return java.util.Optional.of(c);
        }
      }
      return java.util.Optional.empty();
    }

    /** The codes a Job fails on immediately. */
    public static List<Integer> permanentCodes() {
      return java.util.Arrays.stream(values()).filter(ExitCode::permanent).map(ExitCode::code).toList();
    }
  }
}
