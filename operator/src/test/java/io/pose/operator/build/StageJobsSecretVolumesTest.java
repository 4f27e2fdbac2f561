package io.pose.operator.build;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.Fixtures;
import org.junit.jupiter.api.Test;

/** Regression: secret volume names must be unique DNS-1123 labels (at most 63 characters), or the API server rejects the Job. */
class StageJobsSecretVolumesTest {

  @Test
  void secretsWhoseNamesDifferOnlyByDotAndDashGetDistinctVolumes() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    cx.getSpec().getModel().setCredentialsSecret("hf.token");
    cx.getSpec().getTraining().getData().setCredentialsSecret("hf-token");
    Job job = StageJobs.build(Fixtures.resolve(cx), Stage.FETCH);
    assertThat(job.getSpec().getTemplate().getSpec().getVolumes()).extracting(Volume::getName).doesNotHaveDuplicates();
  }

  @Test
  void longSecretNameGivesAValidVolumeName() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    String secret = "team-a-huggingface-read-token-for-gated-mistral-models-2026"; // 59 chars, a valid Secret name
    cx.getSpec().getModel().setCredentialsSecret(secret);
    Job job = StageJobs.build(Fixtures.resolve(cx), Stage.FETCH);
    assertThat(job.getSpec().getTemplate().getSpec().getVolumes()).extracting(Volume::getName)
        .allSatisfy(n -> assertThat(n).hasSizeLessThanOrEqualTo(63).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?"));
  }

  @Test
  void secretFilesAreReadableByANonRootTrainer() {
    Job job = StageJobs.build(Fixtures.resolve(Fixtures.example("mistral-32k.yaml")), Stage.FETCH);
    assertThat(job.getSpec().getTemplate().getSpec().getVolumes()).filteredOn(v -> v.getSecret() != null)
        .isNotEmpty().allSatisfy(v -> assertThat(v.getSecret().getDefaultMode()).isEqualTo(0444));
  }

  @Test
  void trainingNodeCpuAndMemoryAreNotRequestedForEvaluation() {
    Job job = StageJobs.build(Fixtures.resolve(Fixtures.example("mistral-32k.yaml")), Stage.EVALUATE);
    var resources = job.getSpec().getTemplate().getSpec().getContainers().get(0).getResources();
    assertThat(resources.getLimits()).containsOnlyKeys("nvidia.com/gpu");
    assertThat(resources.getRequests()).isNullOrEmpty();
  }
}
