package io.pose.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.SpecDefaults;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The published card says how the model was trained: PoSE, or one of the paper's baselines. */
class ModelCardTest {

  static ContextExtensionSpec spec(String pose) {
    return SpecDefaults.apply(SpecIO.parse("""
        apiVersion: pose.io/v1alpha1
        kind: ContextExtension
        metadata: {name: tiny-512}
        spec:
          model: {source: "file:///models/tiny", originalContextLength: 128}
          targetContextLength: 512
          ropeScaling: {type: yarn}
          pose: %s
          training: {data: {source: "file:///data/train.jsonl"}, steps: 10}
          publish: {target: "file:///published/tiny-512"}
        """.formatted(pose), "spec.yaml").getSpec(), 128);
  }

  @Test
  void describesPoseAndEachBaselineAsTrained() {
    String pose = ModelCard.render("tiny-512", spec("{trainingWindow: 128, chunks: 2}"), null, null, List.of());
    assertThat(pose).contains("extended from 128 to 512 tokens by PoSE (Positional Skip-wisE training")
        .contains("samples of 128 tokens whose position ids were split into chunks with random skips")
        .contains("| position sampling | pose, window 128, 2 chunks, seed ");

    String randpos = ModelCard.render("tiny-512", spec("{method: randpos, trainingWindow: 128}"), null, null,
        List.of());
    assertThat(randpos).contains("extended from 128 to 512 tokens by RandPos (the baseline of [arXiv 2309.10400]")
        .contains("samples of 128 tokens whose position ids were drawn at random, in order, from the 512-token window")
        .contains("| position sampling | randpos, window 128, seed ").doesNotContain("Skip-wisE training)")
        .doesNotContain("chunks with random skips");

    String full = ModelCard.render("tiny-512", spec("{method: full}"), null, null, List.of());
    assertThat(full).contains("extended from 128 to 512 tokens by full-length fine-tuning: fine-tuned on samples of "
            + "up to 512 tokens with their own positions")
        .contains("| position sampling | full, samples of up to 512 tokens, seed ").doesNotContain("window 128")
        .doesNotContain("chunks with random skips");
    // tagged with the method it was trained by
    assertThat(frontMatter(pose)).contains("pose").doesNotContain("randpos");
    assertThat(frontMatter(randpos)).contains("randpos").doesNotContainPattern("\\bpose\\b");
    assertThat(frontMatter(full)).contains("full-length-fine-tuning").doesNotContainPattern("\\bpose\\b");
  }

  private static String frontMatter(String card) {
    return card.substring(0, card.indexOf("\n---", 4));
  }
}
