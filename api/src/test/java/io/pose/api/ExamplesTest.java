package io.pose.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.RopeScaling;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.validation.SpecValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every file in examples/ parses strictly and passes validation. */
class ExamplesTest {

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(CrdFiles.repoRoot().resolve("examples"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @Test
  void theExamplesTheDocsPromiseExist() throws IOException {
    assertThat(examples().map(p -> p.getFileName().toString()))
        .contains("mistral-32k.yaml", "llama2-7b-16k.yaml", "multi-node-kueue.yaml", "tiny-local.yaml");
  }

  @ParameterizedTest
  @MethodSource("examples")
  void parsesAndValidates(Path example) throws IOException {
    ContextExtension cx = SpecIO.read(example);
    // as `pose run -f` reads it: relative file: sources resolve next to the file, and must be there
    LocalPaths.resolve(cx, example);
    if (cx.getSpec().getModel().getSource().startsWith("file:")) {
      Path model = Path.of(java.net.URI.create(cx.getSpec().getModel().getSource()));
      if (model.startsWith(CrdFiles.repoRoot().resolve(".pose"))) {
        // made by a recipe, not committed: the example must say which
        assertThat(Files.readString(example)).as(example + ": how its model is prepared")
            .containsPattern("bash tools/models/\\S+\\.sh");
      } else {
        assertThat(model).as(example + ": its model").isDirectory();
      }
    }
    assertThat(SpecValidator.validate(cx)).as(example.toString()).isEmpty();
    Integer original = cx.getSpec().getModel().getOriginalContextLength();
    ContextExtensionSpec resolved = SpecDefaults.apply(cx.getSpec(), original == null ? 4096 : original);
    assertThat(SpecValidator.validate(resolved)).as("%s with defaults applied", example).isEmpty();
  }

  @Test
  void mistralExampleIsTheSeedDocumentsRun() throws IOException {
    ContextExtension cx = SpecIO.read(CrdFiles.repoRoot().resolve("examples/mistral-32k.yaml"));
    ContextExtensionSpec s = SpecDefaults.apply(cx.getSpec(), null);
    assertThat(s.getModel().getOriginalContextLength()).isEqualTo(8192);
    assertThat(s.getTargetContextLength()).isEqualTo(32768);
    assertThat(s.getRopeScaling().getType()).isEqualTo(RopeScaling.Type.YARN);
    assertThat(s.getRopeScaling().getFactor()).isEqualTo(4.0);
    assertThat(s.getPose().getTrainingWindow()).isEqualTo(8192);
    assertThat(s.getPose().getChunks()).isEqualTo(2);
    assertThat(s.getTraining().getSteps()).isEqualTo(1000);
    assertThat(s.getTraining().getGlobalBatchSize()).isEqualTo(64);
    assertThat(s.getTraining().getLearningRate()).isEqualTo(2.0e-5);
    assertThat(s.getTraining().getZeroStage()).isEqualTo(3);
    assertThat(s.getResources().getGpusPerNode()).isEqualTo(8);
    assertThat(s.getEvaluation().getPasskey().getLengths()).containsExactly(4096, 8192, 16384, 32768);
    assertThat(s.getPublish().getTarget()).isEqualTo("hf://my-org/mistral-7b-pose-32k");
  }

  @Test
  void llama2ExampleTakesItsOriginalLengthFromTheModel() throws IOException {
    ContextExtension cx = SpecIO.read(CrdFiles.repoRoot().resolve("examples/llama2-7b-16k.yaml"));
    assertThat(cx.getSpec().getModel().getOriginalContextLength()).isNull();
    ContextExtensionSpec s = SpecDefaults.apply(cx.getSpec(), 4096);
    assertThat(s.getRopeScaling().getFactor()).isEqualTo(4.0);
    assertThat(s.getPose().getTrainingWindow()).isEqualTo(2048);
    assertThat(SpecValidator.validateWithModel(cx.getSpec(), 4096)).isEmpty();
    assertThat(SpecValidator.validateWithModel(cx.getSpec(), 16384)).extracting(Object::toString)
        .contains("spec.targetContextLength: 16384 must be greater than the model's original context length 16384 "
            + "(from its config.json)");
    assertThat(List.of(cx.getMetadata().getName())).containsExactly("llama2-7b-16k");
  }
}
