package io.pose.api.v1alpha1;

/**
 * Every default value of the spec, in one place. {@link SpecDefaults} applies them; CRD descriptions
 * and CEL rules quote these constants, so the API server, the operator and {@code pose run} agree.
 */
public final class Defaults {
  private Defaults() {}

  /** N = 2 chunks: the paper's ablation finds 2 and 3 best and nearly equal; 2 is the official code. */
  public static final int POSE_CHUNKS = 2;
  public static final long POSE_SEED = 42;

  /** The paper's recipe (LLaMA-7B and the Mistral seed): 1000 steps, batch 64, lr 2e-5, 10 warmup steps. */
  public static final int STEPS = 1000;
  public static final int GLOBAL_BATCH_SIZE = 64;
  public static final int MICRO_BATCH_SIZE = 1;
  public static final double LEARNING_RATE = 2.0e-5;
  public static final int WARMUP_STEPS = 10;
  /** The official code keeps the rate constant after warmup. */
  public static final String LR_SCHEDULE = "constant";
  public static final double WEIGHT_DECAY = 0.0;
  public static final double MAX_GRAD_NORM = 1.0;
  /** bf16 rather than the paper's fp16: same memory, no loss scaling, the format Mistral ships in. */
  public static final String PRECISION = "bf16";
  /** ZeRO-3 shards weights, gradients and optimizer state: what lets a 7B model train on 8 GPUs of 48 GB. */
  public static final int ZERO_STAGE = 3;
  public static final boolean ACTIVATION_CHECKPOINTING = true;
  public static final int CHECKPOINT_EVERY_STEPS = 100;
  public static final int KEEP_CHECKPOINTS = 2;
  public static final long TRAINING_SEED = 42;
  /** Retries of a failed training pod (each resumes from the last complete checkpoint). */
  public static final int MAX_RESTARTS = 3;

  public static final String DATA_FORMAT = "jsonl";
  public static final String DATA_TEXT_FIELD = "text";

  public static final int NODES = 1;
  public static final int GPUS_PER_NODE = 8;
  public static final String GPU_RESOURCE = "nvidia.com/gpu";
  public static final int EVALUATION_GPUS = 1;

  public static final String WORKSPACE_SIZE = "200Gi";
  public static final String WORKSPACE_ACCESS_MODE_SINGLE = "ReadWriteOnce";
  public static final String WORKSPACE_ACCESS_MODE_MULTI = "ReadWriteMany";

  public static final String ROPE_TYPE = "yarn";

  /** The paper's protocol: 50 trials per length. */
  public static final int PASSKEY_TRIALS = 50;
  public static final long PASSKEY_SEED = 42;
  public static final int PERPLEXITY_STRIDE = 1024;
  public static final int PERPLEXITY_MAX_DOCUMENTS = 50;
  public static final boolean COMPARE_WITH_BASE = true;

  public static final boolean PUBLISH_PRIVATE = true;
}
