package io.pose.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.ContextExtension;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Relative file: URIs of a spec on a workstation resolve against the spec file's directory; nothing else changes. */
class LocalPathsTest {

  @Test
  void relativeFileUrisBecomeAbsoluteNextToTheSpec() {
    ContextExtension cx = SpecIO.parse("""
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata: {name: tiny}
        spec:
          model: {source: "file:tiny/base-model"}
          targetContextLength: 512
          training: {data: {source: "file:../data/corpus.jsonl"}}
          evaluation:
            perplexity: {data: {source: "file:///abs/held-out"}}
            benchmarks: [{name: colors, data: {source: "file:./colors.jsonl"}}]
          publish: {target: "file:out/extended"}
        """, "spec.yaml");
    LocalPaths.resolve(cx, Path.of("/repo/examples/spec.yaml"));
    assertThat(cx.getSpec().getModel().getSource()).isEqualTo("file:///repo/examples/tiny/base-model");
    assertThat(cx.getSpec().getTraining().getData().getSource()).isEqualTo("file:///repo/data/corpus.jsonl");
    assertThat(cx.getSpec().getEvaluation().getPerplexity().getData().getSource()).isEqualTo("file:///abs/held-out");
    assertThat(cx.getSpec().getEvaluation().getBenchmarks().get(0).getData().getSource())
        .isEqualTo("file:///repo/examples/colors.jsonl");
    assertThat(cx.getSpec().getPublish().getTarget()).isEqualTo("file:///repo/examples/out/extended");
  }

  @Test
  void otherSchemesAndAbsolutePathsAreLeftAlone() {
    ContextExtension cx = SpecIO.parse("""
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata: {name: hub}
        spec:
          model: {source: "hf://org/model"}
          targetContextLength: 512
          training: {data: {source: "s3://bucket/corpus"}}
          publish: {target: "file:///srv/models/x"}
        """, "spec.yaml");
    LocalPaths.resolve(cx, Path.of("spec.yaml"));
    assertThat(cx.getSpec().getModel().getSource()).isEqualTo("hf://org/model");
    assertThat(cx.getSpec().getTraining().getData().getSource()).isEqualTo("s3://bucket/corpus");
    assertThat(cx.getSpec().getPublish().getTarget()).isEqualTo("file:///srv/models/x");
  }
}
