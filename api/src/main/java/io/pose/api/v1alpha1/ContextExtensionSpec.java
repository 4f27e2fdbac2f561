package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;

/** What to extend, to which length, how to train it, evaluate it and publish it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"model", "targetContextLength", "ropeScaling", "pose", "training", "resources", "scheduling",
    "storage", "workspaceRetention", "image", "evaluation", "publish", "suspend"})
@ValidationRule(value = Rules.TARGET_ABOVE_ORIGINAL_CEL, message = Rules.TARGET_ABOVE_ORIGINAL_MESSAGE, fieldPath = ".targetContextLength", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.WINDOW_WITHIN_ORIGINAL_CEL, message = Rules.WINDOW_WITHIN_ORIGINAL_MESSAGE, fieldPath = ".pose.trainingWindow", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.WINDOW_BELOW_TARGET_CEL, message = Rules.WINDOW_BELOW_TARGET_MESSAGE, fieldPath = ".pose.trainingWindow", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.MULTI_NODE_RWX_CEL, message = Rules.MULTI_NODE_RWX_MESSAGE, fieldPath = ".storage.workspace", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.BATCH_DIVISIBLE_CEL, message = Rules.BATCH_DIVISIBLE_MESSAGE, fieldPath = ".training.globalBatchSize", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.PASSKEY_LENGTHS_CEL, message = Rules.PASSKEY_LENGTHS_MESSAGE, fieldPath = ".evaluation.passkey.lengths", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.PERPLEXITY_LENGTHS_CEL, message = Rules.PERPLEXITY_LENGTHS_MESSAGE, fieldPath = ".evaluation.perplexity.lengths", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.QUALITY_GATE_CEL, message = Rules.QUALITY_GATE_MESSAGE, fieldPath = ".publish.requirePasskeyAccuracy", reason = "FieldValueInvalid")
@ValidationRule(value = Rules.IMMUTABLE_ROPE_SCALING_PRESENCE_CEL, message = Rules.IMMUTABLE_MESSAGE, fieldPath = ".ropeScaling", reason = "FieldValueForbidden")
@ValidationRule(value = Rules.IMMUTABLE_POSE_PRESENCE_CEL, message = Rules.IMMUTABLE_MESSAGE, fieldPath = ".pose", reason = "FieldValueForbidden")
@ValidationRule(value = Rules.IMMUTABLE_STORAGE_PRESENCE_CEL, message = Rules.IMMUTABLE_MESSAGE, fieldPath = ".storage", reason = "FieldValueForbidden")
public class ContextExtensionSpec {

  @Required
  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("The base model to extend.")
  private ModelSource model;

  @Required
  @Min(Rules.MIN_CONTEXT_LENGTH)
  @Max(Rules.MAX_CONTEXT_LENGTH)
  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("The context length (Lt) the extended model must handle, in tokens. Must exceed the original length.")
  private Integer targetContextLength;

  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("RoPE scaling applied to reach the target length (written into the published config.json). Default: type "
      + Defaults.ROPE_TYPE + ", factor = targetContextLength / originalContextLength.")
  private RopeScaling ropeScaling;

  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("PoSE position sampling: how the target's relative distances are simulated inside the training window.")
  private PoseSettings pose;

  @Required
  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("Training data and hyper-parameters.")
  private TrainingSettings training;

  @JsonPropertyDescription("Nodes, GPUs and pod placement of the stage Jobs. Changes apply to stages that have not started yet.")
  private ResourceSettings resources;

  @JsonPropertyDescription("Gang scheduling through Kueue or Volcano. Changes apply to stages that have not started yet.")
  private SchedulingSettings scheduling;

  @ValidationRule(value = "self == oldSelf", message = Rules.IMMUTABLE_MESSAGE)
  @JsonPropertyDescription("The workspace volume shared by all stages (model, data, checkpoints, results).")
  private StorageSettings storage;

  @JsonPropertyDescription("What happens to the workspace claim the operator created (base model, checkpoints, extended "
      + "model) when this resource is deleted: RetainCheckpoints keeps it once training has written a checkpoint, Retain "
      + "always keeps it, Delete deletes it with the resource. May change at any time; a ContextExtension of the same name "
      + "created later adopts a kept claim and resumes from its checkpoints. Default: RetainCheckpoints.")
  private WorkspaceRetention workspaceRetention;

  @JsonPropertyDescription("Trainer image and pull settings for the stage pods. Default: the operator's configured trainer image.")
  private ImageSettings image;

  @JsonPropertyDescription("Evaluation after training: passkey retrieval, perplexity and multiple-choice benchmarks.")
  private EvaluationSettings evaluation;

  @JsonPropertyDescription("Where to publish the extended model. Without it the model stays in the workspace.")
  private PublishSettings publish;

  @JsonPropertyDescription("Suspends the running stage (its pods are deleted; training resumes from its last complete checkpoint).")
  private Boolean suspend;

  public WorkspaceRetention getWorkspaceRetention() { return workspaceRetention; }
  public void setWorkspaceRetention(WorkspaceRetention workspaceRetention) { this.workspaceRetention = workspaceRetention; }
  public ModelSource getModel() { return model; }
  public void setModel(ModelSource model) { this.model = model; }
  public Integer getTargetContextLength() { return targetContextLength; }
  public void setTargetContextLength(Integer targetContextLength) { this.targetContextLength = targetContextLength; }
  public RopeScaling getRopeScaling() { return ropeScaling; }
  public void setRopeScaling(RopeScaling ropeScaling) { this.ropeScaling = ropeScaling; }
  public PoseSettings getPose() { return pose; }
  public void setPose(PoseSettings pose) { this.pose = pose; }
  public TrainingSettings getTraining() { return training; }
  public void setTraining(TrainingSettings training) { this.training = training; }
  public ResourceSettings getResources() { return resources; }
  public void setResources(ResourceSettings resources) { this.resources = resources; }
  public SchedulingSettings getScheduling() { return scheduling; }
  public void setScheduling(SchedulingSettings scheduling) { this.scheduling = scheduling; }
  public StorageSettings getStorage() { return storage; }
  public void setStorage(StorageSettings storage) { this.storage = storage; }
  public ImageSettings getImage() { return image; }
  public void setImage(ImageSettings image) { this.image = image; }
  public EvaluationSettings getEvaluation() { return evaluation; }
  public void setEvaluation(EvaluationSettings evaluation) { this.evaluation = evaluation; }
  public PublishSettings getPublish() { return publish; }
  public void setPublish(PublishSettings publish) { this.publish = publish; }
  public Boolean getSuspend() { return suspend; }
  public void setSuspend(Boolean suspend) { this.suspend = suspend; }

  /** True when {@code spec.suspend} is set to true. */
  public boolean suspended() { return Boolean.TRUE.equals(suspend); }
}
