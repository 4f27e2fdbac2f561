package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;

/** Training data and hyper-parameters. Defaults follow the paper's recipe. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = Rules.MICRO_WITHIN_GLOBAL_CEL, message = Rules.MICRO_WITHIN_GLOBAL_MESSAGE, fieldPath = ".microBatchSize", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.WARMUP_WITHIN_STEPS_CEL, message = Rules.WARMUP_WITHIN_STEPS_MESSAGE, fieldPath = ".warmupSteps", reason = "FieldValueInvalid")
public class TrainingSettings {

  /** Learning-rate schedule after warmup. */
  public enum LrSchedule {
    @JsonProperty("constant") CONSTANT,
    @JsonProperty("linear") LINEAR,
    @JsonProperty("cosine") COSINE;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
  }

  /** Numeric format of the forward and backward passes (master weights stay fp32). */
  public enum Precision {
    @JsonProperty("bf16") BF16,
    @JsonProperty("fp16") FP16,
    @JsonProperty("fp32") FP32;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
  }

  @Required
  @JsonPropertyDescription("The training corpus (documents of at least minTokens tokens; default minTokens = training window).")
  private DataSource data;

  @Min(1)
  @Max(10_000_000)
  @JsonPropertyDescription("Optimizer steps. Default: " + Defaults.STEPS + ".")
  private Integer steps;

  @Min(1)
  @Max(1_000_000)
  @JsonPropertyDescription("Samples per optimizer step across all GPUs. Default: " + Defaults.GLOBAL_BATCH_SIZE + ".")
  private Integer globalBatchSize;

  @Min(1)
  @Max(1024)
  @JsonPropertyDescription("Samples per GPU per forward pass; the rest is gradient accumulation. Default: " + Defaults.MICRO_BATCH_SIZE + ".")
  private Integer microBatchSize;

  @Min(value = 0, inclusive = false)
  @Max(1)
  @JsonPropertyDescription("Peak learning rate (AdamW). Default: 2e-5.")
  private Double learningRate;

  @Min(0)
  @JsonPropertyDescription("Linear warmup steps. Default: " + Defaults.WARMUP_STEPS + ".")
  private Integer warmupSteps;

  @JsonPropertyDescription("constant | linear | cosine decay after warmup. Default: " + Defaults.LR_SCHEDULE + ".")
  private LrSchedule lrSchedule;

  @Min(0)
  @JsonPropertyDescription("AdamW weight decay. Default: 0.")
  private Double weightDecay;

  @Min(0)
  @JsonPropertyDescription("Global gradient-norm clipping threshold; 0 disables clipping. Default: 1.0.")
  private Double maxGradNorm;

  @JsonPropertyDescription("bf16 | fp16 (dynamic loss scaling) | fp32. Default: " + Defaults.PRECISION + ".")
  private Precision precision;

  @Min(0)
  @Max(3)
  @JsonPropertyDescription("ZeRO stage: 0 (replicated), 1 (optimizer state sharded), 2 (+ gradients), 3 (+ weights). Default: "
      + Defaults.ZERO_STAGE + ".")
  private Integer zeroStage;

  @JsonPropertyDescription("Recompute each layer's activations in the backward pass. Default: true.")
  private Boolean activationCheckpointing;

  @Min(1)
  @JsonPropertyDescription("Write a checkpoint every N steps (atomically; a restarted pod resumes from the last complete one). Default: "
      + Defaults.CHECKPOINT_EVERY_STEPS + ".")
  private Integer checkpointEverySteps;

  @Min(1)
  @Max(1000)
  @JsonPropertyDescription("Checkpoints kept in the workspace. Default: " + Defaults.KEEP_CHECKPOINTS + ".")
  private Integer keepCheckpoints;

  @JsonPropertyDescription("Seed of weight-independent randomness (data order, dropout). Default: " + Defaults.TRAINING_SEED + ".")
  private Long seed;

  @Min(0)
  @Max(100)
  @JsonPropertyDescription("Restarts after a real failure of the training pods (preemption and node drain are not counted). Default: "
      + Defaults.MAX_RESTARTS + ".")
  private Integer maxRestarts;

  public DataSource getData() { return data; }
  public void setData(DataSource data) { this.data = data; }
  public Integer getSteps() { return steps; }
  public void setSteps(Integer steps) { this.steps = steps; }
  public Integer getGlobalBatchSize() { return globalBatchSize; }
  public void setGlobalBatchSize(Integer globalBatchSize) { this.globalBatchSize = globalBatchSize; }
  public Integer getMicroBatchSize() { return microBatchSize; }
  public void setMicroBatchSize(Integer microBatchSize) { this.microBatchSize = microBatchSize; }
  public Double getLearningRate() { return learningRate; }
  public void setLearningRate(Double learningRate) { this.learningRate = learningRate; }
  public Integer getWarmupSteps() { return warmupSteps; }
  public void setWarmupSteps(Integer warmupSteps) { this.warmupSteps = warmupSteps; }
  public LrSchedule getLrSchedule() { return lrSchedule; }
  public void setLrSchedule(LrSchedule lrSchedule) { this.lrSchedule = lrSchedule; }
  public Double getWeightDecay() { return weightDecay; }
  public void setWeightDecay(Double weightDecay) { this.weightDecay = weightDecay; }
  public Double getMaxGradNorm() { return maxGradNorm; }
  public void setMaxGradNorm(Double maxGradNorm) { this.maxGradNorm = maxGradNorm; }
  public Precision getPrecision() { return precision; }
  public void setPrecision(Precision precision) { this.precision = precision; }
  public Integer getZeroStage() { return zeroStage; }
  public void setZeroStage(Integer zeroStage) { this.zeroStage = zeroStage; }
  public Boolean getActivationCheckpointing() { return activationCheckpointing; }
  public void setActivationCheckpointing(Boolean activationCheckpointing) { this.activationCheckpointing = activationCheckpointing; }
  public Integer getCheckpointEverySteps() { return checkpointEverySteps; }
  public void setCheckpointEverySteps(Integer checkpointEverySteps) { this.checkpointEverySteps = checkpointEverySteps; }
  public Integer getKeepCheckpoints() { return keepCheckpoints; }
  public void setKeepCheckpoints(Integer keepCheckpoints) { this.keepCheckpoints = keepCheckpoints; }
  public Long getSeed() { return seed; }
  public void setSeed(Long seed) { this.seed = seed; }
  public Integer getMaxRestarts() { return maxRestarts; }
  public void setMaxRestarts(Integer maxRestarts) { this.maxRestarts = maxRestarts; }
}
