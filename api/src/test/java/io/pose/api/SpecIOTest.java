package io.pose.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.validation.SpecValidationException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SpecIOTest {

  private static final String HEADER = "apiVersion: pose.io/v1alpha1\nkind: ContextExtension\nmetadata:\n  name: x\n";
  private static final String VALID = HEADER + """
      spec:
        model:
          source: hf://org/model
        targetContextLength: 32768
        training:
          data:
            source: s3://bucket/data.jsonl
      """;

  private static String errorOf(String yaml) {
    try {
      SpecIO.parse(yaml, "test.yaml");
    } catch (SpecValidationException e) {
      return e.getMessage();
    }
    throw new AssertionError("expected a SpecValidationException");
  }

  @Test
  void parsesAValidDocument() {
    ContextExtension cx = SpecIO.parse(VALID, "test.yaml");
    assertThat(cx.getMetadata().getName()).isEqualTo("x");
    assertThat(cx.getSpec().getTargetContextLength()).isEqualTo(32768);
    assertThat(cx.getSpec().getTraining().getData().getSource()).isEqualTo("s3://bucket/data.jsonl");
  }

  @Test
  void unknownFieldsAreErrorsThatNameTheField() {
    String yaml = VALID.replace("  targetContextLength: 32768", "  targetContextLength: 32768\n  pose:\n    chunk: 3");
    assertThat(errorOf(yaml)).startsWith("spec.pose.chunk: is not a known field").contains("chunks", "trainingWindow");
  }

  @Test
  void aTypoInANestedListNamesTheIndex() {
    String yaml = VALID + """
          evaluation:
            benchmarks:
              - name: hellaswag
                data: {source: s3://b/h.jsonl}
              - name: piqa
                date: {source: s3://b/p.jsonl}
        """;
    assertThat(errorOf(yaml)).startsWith("spec.evaluation.benchmarks[1].date: is not a known field");
  }

  @Test
  void unknownEnumValuesListTheAllowedOnes() {
    String yaml = VALID.replace("  targetContextLength: 32768", "  targetContextLength: 32768\n  ropeScaling:\n    type: yarnn");
    assertThat(errorOf(yaml)).isEqualTo("spec.ropeScaling.type: \"yarnn\" is not one of linear, ntk, dynamic, yarn");
  }

  @Test
  void wrongTypesSayWhatWasExpected() {
    assertThat(errorOf(VALID.replace("32768", "lots"))).isEqualTo("spec.targetContextLength: must be an integer");
    assertThat(errorOf(VALID.replace("  targetContextLength: 32768", "  targetContextLength: 32768\n  suspend: maybe")))
        .isEqualTo("spec.suspend: must be true or false");
  }

  @Test
  void wrongKindOrVersionIsRejected() {
    assertThat(errorOf(VALID.replace("pose.io/v1alpha1", "pose.io/v1"))).isEqualTo("apiVersion: \"pose.io/v1\" must be pose.io/v1alpha1");
    assertThat(errorOf(VALID.replace("kind: ContextExtension", "kind: Job"))).isEqualTo("kind: \"Job\" must be ContextExtension");
  }

  @Test
  void malformedYamlAndMultipleDocumentsAreRejected() {
    assertThat(errorOf("spec: [unclosed")).startsWith("(document): test.yaml:1:16: not valid YAML: ");
    // an editor's file:line:column, the problem, and where the broken construct began
    assertThat(errorOf("apiVersion: pose.io/v1alpha1\nkind: ContextExtension\nspec: {model: {source: x}\n  target: 3\n"))
        .isEqualTo("(document): test.yaml:4:3: not valid YAML: expected ',' or '}', but got <scalar> (while parsing a "
            + "flow mapping that begins at line 3, column 7)");
    assertThat(errorOf("apiVersion: pose.io/v1alpha1\nkind: ContextExtension\nspec:\n  bad: - a\n"))
        .isEqualTo("(document): test.yaml:4:8: not valid YAML: sequence entries are not allowed here");
    assertThat(errorOf(VALID + "---\n" + VALID)).contains("must hold exactly one ContextExtension document, found 2");
  }

  @Test
  void missingFileIsReportedWithItsPath() {
    assertThatThrownBy(() -> SpecIO.read(Path.of("/no/such/spec.yaml"))).hasMessageContaining("/no/such/spec.yaml");
  }

  @Test
  void yamlRoundTripKeepsTheSpec() {
    ContextExtension cx = SpecIO.parse(VALID, "test.yaml");
    ContextExtension again = SpecIO.parse(SpecIO.toYaml(cx), "again");
    assertThat(SpecIO.fingerprint(again.getSpec())).isEqualTo(SpecIO.fingerprint(cx.getSpec()));
  }

  @Test
  void fingerprintNamesTheImmutableFieldsThatChanged() {
    ContextExtensionSpec a = SpecIO.parse(VALID, "a").getSpec();
    ContextExtensionSpec b = SpecIO.copy(a);
    b.setSuspend(true);
    assertThat(SpecIO.changedFields(SpecIO.fingerprint(a), SpecIO.fingerprint(b))).isEmpty();
    b.setTargetContextLength(65536);
    b.getTraining().setSteps(5);
    assertThat(SpecIO.changedFields(SpecIO.fingerprint(a), SpecIO.fingerprint(b)))
        .containsExactly("spec.targetContextLength", "spec.training");
  }
}
