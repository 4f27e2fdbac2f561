package io.pose.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.SpecIO;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpecDefaultsTest {

  private static ContextExtensionSpec minimal() {
    return SpecIO.parse("""
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata: {name: x}
        spec:
          model: {source: hf://org/m}
          targetContextLength: 32768
          training:
            data: {source: s3://b/d.jsonl}
          evaluation:
            passkey: {}
            perplexity:
              data: {source: s3://b/ppl.jsonl}
          publish: {target: hf://org/out}
        """, "t").getSpec();
  }

  @Test
  void fillsThePapersRecipe() {
    ContextExtensionSpec s = SpecDefaults.apply(minimal(), 8192);
    assertThat(s.getModel().getOriginalContextLength()).isEqualTo(8192);
    assertThat(s.getRopeScaling().getType()).isEqualTo(RopeScaling.Type.YARN);
    assertThat(s.getRopeScaling().getFactor()).isEqualTo(4.0);
    assertThat(s.getPose().getMethod()).isEqualTo(PoseSettings.Method.POSE);
    assertThat(s.getPose().getTrainingWindow()).isEqualTo(8192);
    assertThat(s.getPose().getChunks()).isEqualTo(2);
    TrainingSettings t = s.getTraining();
    assertThat(List.of(t.getSteps(), t.getGlobalBatchSize(), t.getMicroBatchSize(), t.getWarmupSteps(), t.getZeroStage()))
        .containsExactly(1000, 64, 1, 10, 3);
    assertThat(t.getLearningRate()).isEqualTo(2e-5);
    assertThat(t.getPrecision()).isEqualTo(TrainingSettings.Precision.BF16);
    assertThat(t.getData().getFormat()).isEqualTo(DataSource.Format.JSONL);
    assertThat(t.getData().getTextField()).isEqualTo("text");
    assertThat(t.getData().getMinTokens()).as("documents at least Lc long, as in the paper").isEqualTo(8192);
    assertThat(s.getResources().getNodes()).isEqualTo(1);
    assertThat(s.getResources().getGpusPerNode()).isEqualTo(8);
    assertThat(s.getResources().getGpuResource()).isEqualTo("nvidia.com/gpu");
    assertThat(s.getStorage().getWorkspace().getSize()).isEqualTo("200Gi");
    assertThat(s.getStorage().getWorkspace().getAccessModes()).containsExactly(WorkspaceVolume.AccessMode.ReadWriteOnce);
    assertThat(s.getEvaluation().getPasskey().getLengths()).containsExactly(8192, 16384, 32768);
    assertThat(s.getEvaluation().getPasskey().getTrials()).isEqualTo(50);
    assertThat(s.getEvaluation().getPerplexity().getStride()).isEqualTo(1024);
    assertThat(s.getEvaluation().getPerplexity().getMode()).isEqualTo(PerplexityEvaluation.Mode.SLIDING_WINDOW);
    assertThat(s.getEvaluation().getCompareWithBase()).isTrue();
    assertThat(s.getPublish().getPrivateRepository()).isTrue();
    assertThat(s.getSuspend()).isFalse();
  }

  @Test
  void modelDependentDefaultsWaitForTheOriginalLength() {
    ContextExtensionSpec s = SpecDefaults.apply(minimal(), null);
    assertThat(s.getRopeScaling().getFactor()).isNull();
    assertThat(s.getPose().getTrainingWindow()).isNull();
    assertThat(s.getEvaluation().getPasskey().getLengths()).isNull();
    assertThat(s.getTraining().getSteps()).as("the rest is filled").isEqualTo(1000);
  }

  @Test
  void explicitValuesWinAndTheInputIsNotModified() {
    ContextExtensionSpec in = minimal();
    in.setRopeScaling(new RopeScaling());
    in.getRopeScaling().setFactor(8.0);
    in.setResources(new ResourceSettings());
    in.getResources().setNodes(2);
    ContextExtensionSpec s = SpecDefaults.apply(in, 4096);
    assertThat(s.getRopeScaling().getFactor()).isEqualTo(8.0);
    assertThat(s.getStorage().getWorkspace().getAccessModes()).containsExactly(WorkspaceVolume.AccessMode.ReadWriteMany);
    assertThat(in.getStorage()).isNull();
    assertThat(in.getPose()).isNull();
  }

  @Test
  void anExistingClaimGetsNoSizeOrModes() {
    ContextExtensionSpec in = minimal();
    in.setStorage(new StorageSettings());
    in.getStorage().setWorkspace(new WorkspaceVolume());
    in.getStorage().getWorkspace().setExistingClaim("shared");
    WorkspaceVolume w = SpecDefaults.apply(in, 4096).getStorage().getWorkspace();
    assertThat(w.getSize()).isNull();
    assertThat(w.getAccessModes()).isNull();
  }

  @Test
  void doublingLengthsEndAtTheTarget() {
    assertThat(SpecDefaults.doublingLengths(2048, 16384)).containsExactly(2048, 4096, 8192, 16384);
    assertThat(SpecDefaults.doublingLengths(4096, 10000)).containsExactly(4096, 8192, 10000);
  }
}
