package io.pose.api.validation;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.BenchmarkTask;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.EvaluationSettings;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.PublishSettings;
import io.pose.api.v1alpha1.ResourceSettings;
import io.pose.api.v1alpha1.StorageSettings;
import io.pose.api.v1alpha1.WorkspaceVolume;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Messages name the field, the value and the rule. */
class SpecValidatorTest {

  private static List<String> violations(ContextExtensionSpec spec) {
    return SpecValidator.validate(spec).stream().map(Violation::toString).toList();
  }

  @Test
  void aMinimalSpecIsValid() {
    assertThat(violations(RandomSpecs.minimal())).isEmpty();
  }

  @Test
  void requiredFieldsAreNamed() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.getModel().setSource(null);
    s.setTargetContextLength(null);
    s.getTraining().setData(null);
    assertThat(violations(s)).containsExactlyInAnyOrder("spec.model.source: is required",
        "spec.targetContextLength: is required", "spec.training.data: is required");
  }

  @Test
  void boundsComeFromTheCrdAnnotations() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.setPose(new PoseSettings());
    s.getPose().setChunks(0);
    s.getTraining().setSteps(0);
    s.getTraining().setLearningRate(0.0);
    s.getTraining().setZeroStage(4);
    assertThat(violations(s)).containsExactlyInAnyOrder(
        "spec.pose.chunks: 0 is less than the minimum 1",
        "spec.training.steps: 0 is less than the minimum 1",
        "spec.training.learningRate: 0.0 must be greater than 0",
        "spec.training.zeroStage: 4 is greater than the maximum 3");
  }

  @Test
  void urisAreCheckedAgainstTheirSchemes() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.getModel().setSource("https://huggingface.co/mistralai/Mistral-7B-v0.1");
    s.setPublish(new PublishSettings());
    s.getPublish().setTarget("ftp://x/y");
    assertThat(violations(s)).containsExactlyInAnyOrder(
        "spec.model.source: \"https://huggingface.co/mistralai/Mistral-7B-v0.1\" is not hf://org/name[@revision], "
            + "s3://bucket/prefix, pvc://claim/path or file:///path",
        "spec.publish.target: \"ftp://x/y\" is not hf://org/name, s3://bucket/prefix, oci://registry/repository[:tag], "
            + "pvc://claim/path or file:///path");
    for (String ok : List.of("hf://mistralai/Mistral-7B-v0.1@main", "s3://bucket/models/x", "pvc://models/base",
        "file:///data/model")) {
      s.getModel().setSource(ok);
      s.getPublish().setTarget("oci://registry.example.com:5000/models/x:v1");
      assertThat(violations(s)).as(ok).isEmpty();
    }
  }

  @Test
  void listItemsAreValidatedWithTheirIndex() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.setEvaluation(new EvaluationSettings());
    BenchmarkTask ok = new BenchmarkTask();
    ok.setName("hellaswag");
    ok.setData(s.getTraining().getData());
    BenchmarkTask bad = new BenchmarkTask();
    bad.setName("Bad Name");
    s.getEvaluation().setBenchmarks(List.of(ok, bad));
    assertThat(violations(s)).containsExactlyInAnyOrder(
        "spec.evaluation.benchmarks[1].name: \"Bad Name\" is not lower-case letters, digits, '_', '.' and '-'",
        "spec.evaluation.benchmarks[1].data: is required");
  }

  @Test
  void crossFieldRulesNameTheFieldTheValueAndTheRule() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.getModel().setOriginalContextLength(8192);
    s.setTargetContextLength(8192);
    assertThat(violations(s)).containsExactly(
        "spec.targetContextLength: 8192 must be greater than spec.model.originalContextLength");

    s = RandomSpecs.minimal();
    s.setPose(new PoseSettings());
    s.getPose().setTrainingWindow(16);
    s.getPose().setChunks(17);
    assertThat(violations(s)).containsExactly("spec.pose.chunks: 17 must be in [1, spec.pose.trainingWindow]");

    s = RandomSpecs.minimal();
    s.setResources(new ResourceSettings());
    s.getResources().setNodes(2);
    s.setStorage(new StorageSettings());
    s.getStorage().setWorkspace(new WorkspaceVolume());
    s.getStorage().getWorkspace().setAccessModes(List.of(WorkspaceVolume.AccessMode.ReadWriteOnce));
    assertThat(violations(s)).containsExactly("spec.storage.workspace: [ReadWriteOnce] must include ReadWriteMany in "
        + "accessModes when spec.resources.nodes > 1 (every node reads and writes the workspace)");

    s = RandomSpecs.minimal();
    s.getTraining().setGlobalBatchSize(12);
    assertThat(violations(s)).containsExactly("spec.training.globalBatchSize: 12 must be a multiple of microBatchSize x "
        + "nodes x gpusPerNode (the data-parallel world; defaults apply)");
  }

  @Test
  void theNameMustFitDerivedObjectNames() {
    ContextExtension cx = new ContextExtension();
    cx.getMetadata().setName("7b-model");
    cx.setSpec(RandomSpecs.minimal());
    assertThat(SpecValidator.validate(cx)).extracting(Violation::toString).containsExactly("metadata.name: \"7b-model\" "
        + "must be a DNS label that starts with a letter, at most 52 characters (stage pods and services derive their "
        + "names from it)");
  }

  @Test
  void validateWithModelAppliesTheModelsOriginalLength() {
    ContextExtensionSpec s = RandomSpecs.minimal();
    s.setTargetContextLength(4096);
    assertThat(SpecValidator.validate(s)).isEmpty();
    assertThat(SpecValidator.validateWithModel(s, 2048)).isEmpty();
    assertThat(SpecValidator.validateWithModel(s, 4096)).extracting(Violation::toString).containsExactly(
        "spec.targetContextLength: 4096 must be greater than the model's original context length 4096 (from its config.json)");
    assertThat(s.getModel().getOriginalContextLength()).as("the spec is not modified").isNull();
    s.getModel().setOriginalContextLength(1024);
    assertThat(SpecValidator.validateWithModel(s, 4096)).as("the spec's own value wins").isEmpty();
  }

  @Test
  void specValidationExceptionListsEveryViolation() {
    ContextExtensionSpec s = SpecIO.copy(RandomSpecs.minimal());
    s.getTraining().setSteps(0);
    s.getModel().setSource("nope");
    SpecValidationException e = new SpecValidationException(SpecValidator.validate(s));
    assertThat(e.getMessage().lines()).hasSize(2);
    assertThat(e.violations()).hasSize(2);
  }
}
