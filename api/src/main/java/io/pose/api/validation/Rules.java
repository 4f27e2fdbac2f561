package io.pose.api.validation;

import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.Defaults;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.RopeScaling;
import io.pose.api.v1alpha1.SchedulingSettings;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.api.v1alpha1.WorkspaceVolume;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The validation rules of the ContextExtension spec, each written twice on purpose: as a CEL expression
 * (a constant, which the CRD carries as {@code x-kubernetes-validations}) and as a Java predicate (for the
 * operator, whose mock API server runs no CEL, and for {@code pose run}, which has no API server). A test
 * evaluates the CEL of the generated CRD and the Java predicates on the same random specs and requires
 * that they agree.
 */
public final class Rules {
  private Rules() {}

  // ---- bounds and patterns shared by annotations, messages and the CRD ----

  public static final int MIN_CONTEXT_LENGTH = 16;
  public static final int MAX_CONTEXT_LENGTH = 4_194_304;
  public static final int MAX_NODES = 1024;
  public static final int MAX_URI_LENGTH = 2048;
  public static final int MAX_EVAL_LENGTHS = 32;
  /** Passkey prompts need room for the instruction, the key sentence and the question. */
  public static final int MIN_PASSKEY_LENGTH = 128;
  /**
   * Longest resource name: derived names must stay DNS labels of at most 63 characters; the longest is a
   * training pod's hostname {@code <name>-train-<index>} with up to 4 index digits.
   */
  public static final int MAX_NAME_LENGTH = 52;

  private static final String S3 = "s3://[a-z0-9][a-z0-9.-]*[a-z0-9](/\\S*)?";
  private static final String PVC = "pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/\\S*)?";
  private static final String FILE = "file:///\\S*";
  private static final String HF_NAME = "[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*";

  public static final String MODEL_URI_PATTERN =
      "^(hf://" + HF_NAME + "(@[A-Za-z0-9][A-Za-z0-9._/-]*)?|" + S3 + "|" + PVC + "|" + FILE + ")$";
  public static final String DATA_URI_PATTERN =
      "^(hf://datasets/" + HF_NAME + "(@[A-Za-z0-9][A-Za-z0-9._-]*)?(/\\S*)?|" + S3 + "|" + PVC + "|" + FILE + ")$";
  public static final String PUBLISH_URI_PATTERN = "^(hf://" + HF_NAME + "(@[A-Za-z0-9][A-Za-z0-9._/-]*)?|" + S3
      + "|oci://[a-z0-9][a-z0-9.-]*(:[0-9]+)?/[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?|" + PVC + "|"
      + FILE + ")$";
  public static final String DNS_SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
  public static final String DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
  public static final String RESOURCE_NAME_PATTERN =
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$";
  public static final String QUANTITY_PATTERN =
      "^([+]?[0-9]+(\\.[0-9]*)?|[+]?\\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$";
  public static final String JSON_FIELD_PATTERN = "^[A-Za-z_][A-Za-z0-9_.-]*$";
  public static final String TASK_NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]*$";

  /** What each pattern means, for error messages. */
  public static final Map<String, String> PATTERN_DESCRIPTIONS = Map.of(
      MODEL_URI_PATTERN, "hf://org/name[@revision], s3://bucket/prefix, pvc://claim/path or file:///path",
      DATA_URI_PATTERN, "hf://datasets/org/name[@revision][/path], s3://bucket/prefix, pvc://claim/path or file:///path",
      PUBLISH_URI_PATTERN, "hf://org/name, s3://bucket/prefix, oci://registry/repository[:tag], pvc://claim/path or file:///path",
      DNS_SUBDOMAIN_PATTERN, "a Kubernetes object name (lower-case alphanumerics, '-' and '.')",
      DNS_LABEL_PATTERN, "a DNS label (lower-case alphanumerics and '-')",
      RESOURCE_NAME_PATTERN, "a Kubernetes resource name such as nvidia.com/gpu",
      QUANTITY_PATTERN, "a Kubernetes quantity such as 200Gi, 500m or 16",
      JSON_FIELD_PATTERN, "a JSON field name",
      TASK_NAME_PATTERN, "lower-case letters, digits, '_', '.' and '-'");

  // ---- CEL (x-kubernetes-validations); self is the object the annotation sits on ----

  public static final String NAME_CEL = "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= "
      + MAX_NAME_LENGTH;
  public static final String NAME_MESSAGE = "must be a DNS label that starts with a letter, at most " + MAX_NAME_LENGTH
      + " characters (stage pods and services derive their names from it)";

  public static final String TARGET_ABOVE_ORIGINAL_CEL =
      "!has(self.model.originalContextLength) || self.targetContextLength > self.model.originalContextLength";
  public static final String TARGET_ABOVE_ORIGINAL_MESSAGE = "must be greater than spec.model.originalContextLength";

  public static final String WINDOW_WITHIN_ORIGINAL_CEL = "!has(self.pose) || !has(self.pose.trainingWindow) "
      + "|| !has(self.model.originalContextLength) || self.pose.trainingWindow <= self.model.originalContextLength";
  public static final String WINDOW_WITHIN_ORIGINAL_MESSAGE = "must be at most spec.model.originalContextLength";

  public static final String WINDOW_BELOW_TARGET_CEL =
      "!has(self.pose) || !has(self.pose.trainingWindow) || self.pose.trainingWindow < self.targetContextLength";
  public static final String WINDOW_BELOW_TARGET_MESSAGE = "must be less than spec.targetContextLength";

  public static final String MULTI_NODE_RWX_CEL = "!has(self.resources) || !has(self.resources.nodes) "
      + "|| self.resources.nodes <= 1 || !has(self.storage) || !has(self.storage.workspace) "
      + "|| !has(self.storage.workspace.accessModes) || 'ReadWriteMany' in self.storage.workspace.accessModes";
  public static final String MULTI_NODE_RWX_MESSAGE =
      "must include ReadWriteMany in accessModes when spec.resources.nodes > 1 (every node reads and writes the workspace)";

  public static final String BATCH_DIVISIBLE_CEL = "(has(self.training.globalBatchSize) ? self.training.globalBatchSize : "
      + Defaults.GLOBAL_BATCH_SIZE + ") % ((has(self.training.microBatchSize) ? self.training.microBatchSize : "
      + Defaults.MICRO_BATCH_SIZE + ") * ((has(self.resources) && has(self.resources.nodes)) ? self.resources.nodes : "
      + Defaults.NODES + ") * ((has(self.resources) && has(self.resources.gpusPerNode)) ? "
      + "(self.resources.gpusPerNode == 0 ? 1 : self.resources.gpusPerNode) : " + Defaults.GPUS_PER_NODE + ")) == 0";
  public static final String BATCH_DIVISIBLE_MESSAGE =
      "must be a multiple of microBatchSize x nodes x gpusPerNode (the data-parallel world; defaults apply)";

  public static final String PASSKEY_LENGTHS_CEL = "!has(self.evaluation) || !has(self.evaluation.passkey) "
      + "|| !has(self.evaluation.passkey.lengths) || self.evaluation.passkey.lengths.all(l, l >= " + MIN_PASSKEY_LENGTH
      + " && l <= self.targetContextLength)";
  public static final String PASSKEY_LENGTHS_MESSAGE =
      "must each be in [" + MIN_PASSKEY_LENGTH + ", spec.targetContextLength]";

  public static final String PERPLEXITY_LENGTHS_CEL = "!has(self.evaluation) || !has(self.evaluation.perplexity) "
      + "|| !has(self.evaluation.perplexity.lengths) || self.evaluation.perplexity.lengths.all(l, l >= 2 "
      + "&& l <= self.targetContextLength)";
  public static final String PERPLEXITY_LENGTHS_MESSAGE = "must each be in [2, spec.targetContextLength]";

  public static final String QUALITY_GATE_CEL = "!has(self.publish) || !has(self.publish.requirePasskeyAccuracy) "
      + "|| (has(self.evaluation) && has(self.evaluation.passkey) && (!has(self.evaluation.passkey.lengths) "
      + "|| self.targetContextLength in self.evaluation.passkey.lengths))";
  public static final String QUALITY_GATE_MESSAGE =
      "needs spec.evaluation.passkey, measured at spec.targetContextLength";

  /**
   * Transition rules: optional immutable fields may not be added or removed after creation. One rule per field, so
   * that the API server's refusal names it.
   */
  public static final String IMMUTABLE_ROPE_SCALING_PRESENCE_CEL = "has(self.ropeScaling) == has(oldSelf.ropeScaling)";
  public static final String IMMUTABLE_POSE_PRESENCE_CEL = "has(self.pose) == has(oldSelf.pose)";
  public static final String IMMUTABLE_STORAGE_PRESENCE_CEL = "has(self.storage) == has(oldSelf.storage)";
  public static final String IMMUTABLE_MESSAGE = "is immutable once created: delete and re-create the ContextExtension "
      + "to start a new run (suspend, resources, scheduling, image, evaluation and publish may change)";

  public static final String CHUNKS_WITHIN_WINDOW_CEL =
      "!has(self.chunks) || !has(self.trainingWindow) || self.chunks <= self.trainingWindow";
  public static final String CHUNKS_WITHIN_WINDOW_MESSAGE = "must be in [1, spec.pose.trainingWindow]";

  public static final String CHUNKS_ONLY_POSE_CEL = "!has(self.chunks) || !has(self.method) || self.method == 'pose'";
  public static final String CHUNKS_ONLY_POSE_MESSAGE = "applies only to method pose";

  public static final String YARN_ONLY_CEL = "!has(self.type) || self.type == 'yarn' || !(has(self.betaFast) "
      + "|| has(self.betaSlow) || has(self.attentionFactor) || has(self.mscale) || has(self.mscaleAllDim) || has(self.truncate))";
  public static final String YARN_ONLY_MESSAGE =
      "betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim and truncate apply only to type yarn";

  public static final String MICRO_WITHIN_GLOBAL_CEL = "!has(self.microBatchSize) || self.microBatchSize <= "
      + "(has(self.globalBatchSize) ? self.globalBatchSize : " + Defaults.GLOBAL_BATCH_SIZE + ")";
  public static final String MICRO_WITHIN_GLOBAL_MESSAGE = "must be at most spec.training.globalBatchSize";

  public static final String WARMUP_WITHIN_STEPS_CEL =
      "!has(self.warmupSteps) || self.warmupSteps <= (has(self.steps) ? self.steps : " + Defaults.STEPS + ")";
  public static final String WARMUP_WITHIN_STEPS_MESSAGE = "must be at most spec.training.steps";

  public static final String ONE_SCHEDULER_CEL = "!(has(self.queueName) && has(self.volcano))";
  public static final String ONE_SCHEDULER_MESSAGE = "queueName (Kueue) and volcano are mutually exclusive";

  public static final String EXISTING_CLAIM_EXCLUSIVE_CEL =
      "!has(self.existingClaim) || !(has(self.size) || has(self.storageClassName) || has(self.accessModes))";
  public static final String EXISTING_CLAIM_EXCLUSIVE_MESSAGE =
      "excludes size, storageClassName and accessModes (they describe a claim the operator creates)";

  // ---- the same rules in Java ----

  /**
   * A cross-field rule.
   *
   * @param cel the CEL expression in the CRD (identical text)
   * @param scope the spec path of the object the CEL is attached to ("spec", "spec.pose", ...)
   * @param field the spec path reported on violation
   * @param message what the value must satisfy
   * @param holds the Java predicate over the raw (not defaulted) spec
   * @param value the offending value, for the message
   */
  public record Rule(String cel, String scope, String field, String message, Predicate<ContextExtensionSpec> holds,
      Function<ContextExtensionSpec, Object> value) {}

  /** Every cross-field rule of the spec (not the name rule and not the immutability transition rules). */
  public static final List<Rule> SPEC_RULES = List.of(
      new Rule(TARGET_ABOVE_ORIGINAL_CEL, "spec", "spec.targetContextLength", TARGET_ABOVE_ORIGINAL_MESSAGE,
          s -> original(s) == null || s.getTargetContextLength() > original(s), ContextExtensionSpec::getTargetContextLength),
      new Rule(WINDOW_WITHIN_ORIGINAL_CEL, "spec", "spec.pose.trainingWindow", WINDOW_WITHIN_ORIGINAL_MESSAGE,
          s -> window(s) == null || original(s) == null || window(s) <= original(s), Rules::window),
      new Rule(WINDOW_BELOW_TARGET_CEL, "spec", "spec.pose.trainingWindow", WINDOW_BELOW_TARGET_MESSAGE,
          s -> window(s) == null || window(s) < s.getTargetContextLength(), Rules::window),
      new Rule(MULTI_NODE_RWX_CEL, "spec", "spec.storage.workspace", MULTI_NODE_RWX_MESSAGE,
          s -> nodes(s) == null || nodes(s) <= 1 || accessModes(s) == null
              || accessModes(s).contains(WorkspaceVolume.AccessMode.ReadWriteMany),
          Rules::accessModes),
      new Rule(BATCH_DIVISIBLE_CEL, "spec", "spec.training.globalBatchSize", BATCH_DIVISIBLE_MESSAGE,
          s -> globalBatch(s) % (microBatch(s) * orDefault(nodes(s), Defaults.NODES) * dataParallelPerNode(s)) == 0,
          Rules::globalBatch),
      new Rule(PASSKEY_LENGTHS_CEL, "spec", "spec.evaluation.passkey.lengths", PASSKEY_LENGTHS_MESSAGE,
          s -> passkeyLengths(s) == null
              || passkeyLengths(s).stream().allMatch(l -> l >= MIN_PASSKEY_LENGTH && l <= s.getTargetContextLength()),
          Rules::passkeyLengths),
      new Rule(PERPLEXITY_LENGTHS_CEL, "spec", "spec.evaluation.perplexity.lengths", PERPLEXITY_LENGTHS_MESSAGE,
          s -> perplexityLengths(s) == null
              || perplexityLengths(s).stream().allMatch(l -> l >= 2 && l <= s.getTargetContextLength()),
          Rules::perplexityLengths),
      new Rule(QUALITY_GATE_CEL, "spec", "spec.publish.requirePasskeyAccuracy", QUALITY_GATE_MESSAGE,
          s -> s.getPublish() == null || s.getPublish().getRequirePasskeyAccuracy() == null
              || (s.getEvaluation() != null && s.getEvaluation().getPasskey() != null
                  && (passkeyLengths(s) == null || passkeyLengths(s).contains(s.getTargetContextLength()))),
          s -> s.getPublish() == null ? null : s.getPublish().getRequirePasskeyAccuracy()),
      new Rule(CHUNKS_WITHIN_WINDOW_CEL, "spec.pose", "spec.pose.chunks", CHUNKS_WITHIN_WINDOW_MESSAGE,
          s -> pose(s, PoseSettings::getChunks) == null || window(s) == null || pose(s, PoseSettings::getChunks) <= window(s),
          s -> pose(s, PoseSettings::getChunks)),
      new Rule(CHUNKS_ONLY_POSE_CEL, "spec.pose", "spec.pose.chunks", CHUNKS_ONLY_POSE_MESSAGE,
          s -> pose(s, PoseSettings::getChunks) == null || pose(s, PoseSettings::getMethod) == null
              || pose(s, PoseSettings::getMethod) == PoseSettings.Method.POSE,
          s -> pose(s, PoseSettings::getChunks)),
      new Rule(YARN_ONLY_CEL, "spec.ropeScaling", "spec.ropeScaling", YARN_ONLY_MESSAGE,
          s -> {
            RopeScaling r = s.getRopeScaling();
            return r == null || r.getType() == null || r.getType() == RopeScaling.Type.YARN
                || (r.getBetaFast() == null && r.getBetaSlow() == null && r.getAttentionFactor() == null
                    && r.getMscale() == null && r.getMscaleAllDim() == null && r.getTruncate() == null);
          },
          s -> s.getRopeScaling() == null || s.getRopeScaling().getType() == null ? null
              : s.getRopeScaling().getType().wireName()),
      new Rule(MICRO_WITHIN_GLOBAL_CEL, "spec.training", "spec.training.microBatchSize", MICRO_WITHIN_GLOBAL_MESSAGE,
          s -> training(s, TrainingSettings::getMicroBatchSize) == null || microBatch(s) <= globalBatch(s),
          s -> training(s, TrainingSettings::getMicroBatchSize)),
      new Rule(WARMUP_WITHIN_STEPS_CEL, "spec.training", "spec.training.warmupSteps", WARMUP_WITHIN_STEPS_MESSAGE,
          s -> training(s, TrainingSettings::getWarmupSteps) == null
              || training(s, TrainingSettings::getWarmupSteps) <= orDefault(training(s, TrainingSettings::getSteps), Defaults.STEPS),
          s -> training(s, TrainingSettings::getWarmupSteps)),
      new Rule(ONE_SCHEDULER_CEL, "spec.scheduling", "spec.scheduling", ONE_SCHEDULER_MESSAGE,
          s -> {
            SchedulingSettings sc = s.getScheduling();
            return sc == null || !(sc.getQueueName() != null && sc.getVolcano() != null);
          },
          s -> s.getScheduling() == null ? null : s.getScheduling().getQueueName()),
      new Rule(EXISTING_CLAIM_EXCLUSIVE_CEL, "spec.storage.workspace", "spec.storage.workspace.existingClaim",
          EXISTING_CLAIM_EXCLUSIVE_MESSAGE,
          s -> {
            WorkspaceVolume w = s.getStorage() == null ? null : s.getStorage().getWorkspace();
            return w == null || w.getExistingClaim() == null
                || (w.getSize() == null && w.getStorageClassName() == null && w.getAccessModes() == null);
          },
          s -> s.getStorage().getWorkspace().getExistingClaim()));

  /** The Java rule whose CEL text is exactly this, if any. */
  public static java.util.Optional<Rule> byCel(String cel) {
    return SPEC_RULES.stream().filter(r -> r.cel().equals(cel)).findFirst();
  }

  // ---- accessors that treat a missing parent as a missing value, like CEL's has() ----

  static Integer original(ContextExtensionSpec s) {
    return s.getModel() == null ? null : s.getModel().getOriginalContextLength();
  }

  static Integer window(ContextExtensionSpec s) {
    return pose(s, PoseSettings::getTrainingWindow);
  }

  static <T> T pose(ContextExtensionSpec s, Function<PoseSettings, T> f) {
    return s.getPose() == null ? null : f.apply(s.getPose());
  }

  static <T> T training(ContextExtensionSpec s, Function<TrainingSettings, T> f) {
    return s.getTraining() == null ? null : f.apply(s.getTraining());
  }

  static Integer nodes(ContextExtensionSpec s) {
    return s.getResources() == null ? null : s.getResources().getNodes();
  }

  static List<WorkspaceVolume.AccessMode> accessModes(ContextExtensionSpec s) {
    return s.getStorage() == null || s.getStorage().getWorkspace() == null ? null
        : s.getStorage().getWorkspace().getAccessModes();
  }

  static int globalBatch(ContextExtensionSpec s) {
    return orDefault(training(s, TrainingSettings::getGlobalBatchSize), Defaults.GLOBAL_BATCH_SIZE);
  }

  static int microBatch(ContextExtensionSpec s) {
    return orDefault(training(s, TrainingSettings::getMicroBatchSize), Defaults.MICRO_BATCH_SIZE);
  }

  /** Data-parallel ranks per node: one per GPU, or one CPU rank when the pod has no GPU. */
  static int dataParallelPerNode(ContextExtensionSpec s) {
    Integer gpus = s.getResources() == null ? null : s.getResources().getGpusPerNode();
    if (gpus == null) {
      return Defaults.GPUS_PER_NODE;
    }
    return gpus == 0 ? 1 : gpus;
  }

  static List<Integer> passkeyLengths(ContextExtensionSpec s) {
    return s.getEvaluation() == null || s.getEvaluation().getPasskey() == null ? null
        : s.getEvaluation().getPasskey().getLengths();
  }

  static List<Integer> perplexityLengths(ContextExtensionSpec s) {
    return s.getEvaluation() == null || s.getEvaluation().getPerplexity() == null ? null
        : s.getEvaluation().getPerplexity().getLengths();
  }

  static int orDefault(Integer value, int fallback) {
    return Objects.requireNonNullElse(value, fallback);
  }
}
