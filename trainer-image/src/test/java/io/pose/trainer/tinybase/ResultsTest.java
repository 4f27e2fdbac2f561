package io.pose.trainer.tinybase;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.SpecIO;
import io.pose.trainer.bench.CostCurve;
import java.io.IOException;
import java.nio.file.Files;
import javax.imageio.ImageIO;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The results program in its reduced form (CI): a PoSE variant trained a few steps and the untrained "none" variant,
 * each through the real `pose run` / `pose eval`, and the Markdown it writes. The full tables are docs/results.md.
 */
class ResultsTest {
  static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @TempDir
  Path tmp;

  @Test
  void runsEachVariantThroughThePipelineAndWritesTheTables() throws IOException {
    List<Results.Row> rows = Results.run(REPO, tmp, Results.Size.QUICK, new PrintWriter(new StringWriter()));
    assertThat(rows).extracting(Results.Row::method).containsExactly("pose", "none");
    for (Results.Row r : rows) {
      assertThat(r.scaling()).isEqualTo("yarn");
      assertThat(r.passkey()).containsOnlyKeys(128, 256, 384, 512);
      assertThat(r.passkey().values()).allSatisfy(a -> assertThat(a).isBetween(0.0, 1.0));
      assertThat(r.perplexity()).containsOnlyKeys(128, 512);
      assertThat(r.perplexity().values()).allSatisfy(p -> assertThat(p).isGreaterThan(1.0).isLessThan(316.0));
      // the base model is the same in every variant: it retrieves inside its window
      assertThat(r.basePasskey().get(128)).isEqualTo(1.0);
    }
    assertThat(rows.get(0).steps()).isEqualTo(Results.Size.QUICK.steps());
    assertThat(rows.get(1).steps()).as("none trains nothing").isZero();
    // the untrained variant sees the extended config: its perplexity at 128 differs from the base model's
    assertThat(rows.get(1).perplexity().get(128)).isNotEqualTo(rows.get(1).basePerplexity().get(128));
    Path docs = tmp.resolve("docs");
    List<Path> figures = ResultsPlots.passkey(rows, 128, 512, docs.resolve("results"), "");
    assertThat(figures).containsExactly(docs.resolve("results/passkey-yarn.png"));
    assertThat(ImageIO.read(figures.get(0).toFile())).isNotNull()
        .satisfies(image -> assertThat(image.getWidth()).isEqualTo(800));
    String md = Results.markdown(rows, List.of(), Results.Size.QUICK, "--quick",
        ResultsPlots.markdown(figures, docs), "");
    assertThat(md).contains("| base model (no extension) | | 100% |").contains("| pose | yarn |")
        .contains("| none | yarn |").contains("exec:exec@results -Dtiny.args=\"--quick\"")
        .contains("| pose | yarn | 128 | 512 |").doesNotContain("| none | yarn | 128")
        // the original window's table: base 100% at 128 for every row, and the perplexity change
        .contains("![passkey yarn](results/passkey-yarn.png)").contains("## The original window kept").containsPattern("\\| none \\| yarn \\| 100% \\| \\d+% \\| 4\\.93 \\|");

    // a real model's section per spec: written from it, kept when the tiny tables are rewritten, replaced when rerun
    Path spec = REPO.resolve("examples/smollm2-pose-cpu.yaml");
    Path work = Files.createDirectories(tmp.resolve("real"));
    Results.Provenance here = Results.Provenance.of(work, "./mvnw exec:exec@results -Dtiny.args=\"--spec x\"");
    assertThat(here.machine()).isEqualTo(Results.machine());
    assertThat(here.command()).isEqualTo("`./mvnw exec:exec@results -Dtiny.args=\"--spec x\"`");
    String section = Results.realModel(rows, SpecIO.read(spec), Path.of("examples/smollm2-pose-cpu.yaml"), here, "");
    assertThat(section).startsWith("<!-- real-model:smollm2-pose-cpu:begin -->")
        .endsWith("<!-- real-model:smollm2-pose-cpu:end -->")
        .contains("## A real pretrained model: smollm2-135m, 8192 -> 16384 tokens")
        .contains("Written by the same program: `./mvnw exec:exec@results -Dtiny.args=\"--spec x\"`, after")
        .contains("yarn scaling (factor 2); 20 training steps of 2 samples of 1024 tokens")
        .contains("### The original window kept").contains("| pose | yarn | 1024 | 16384 |")
        .contains("Full-length fine-tuning is not among the variants: its samples have 16384 tokens");
    String doc = Results.withSection(md, "smollm2-pose-cpu", section);
    assertThat(doc).startsWith(md.stripTrailing()).endsWith(section + "\n");
    assertThat(Results.sections(doc)).isEqualTo(section);

    // measured elsewhere (a GPU machine's script wrote how): the section says so, wherever it is rewritten
    Path gpuWork = Files.createDirectories(tmp.resolve("gpu"));
    Files.writeString(gpuWork.resolve("machine.txt"), "one NVIDIA H200, torch 2.11.0+cu130\n");
    Files.writeString(gpuWork.resolve("command.txt"), "`bash tools/gpu/results.sh` (device)\n");
    Results.Provenance there = Results.Provenance.of(gpuWork, "ignored");
    assertThat(there).isEqualTo(new Results.Provenance("one NVIDIA H200, torch 2.11.0+cu130",
        "`bash tools/gpu/results.sh` (device)"));
    String gpu = Results.realModel(rows, SpecIO.read(REPO.resolve("examples/smollm2-pose-32k.yaml")),
        Path.of("examples/smollm2-pose-32k.yaml"), there, "");
    assertThat(gpu).contains("Machine: one NVIDIA H200, torch 2.11.0+cu130  \n")
        .contains("program: `bash tools/gpu/results.sh` (device), after")
        .as("a GPU's run is not told to go to a GPU").doesNotContain("Full-length fine-tuning is not among");
    String both = Results.withSection(doc, "smollm2-pose-32k", gpu);
    assertThat(Results.sections(both)).isEqualTo(section + "\n\n" + gpu);
    String rerun = Results.withSection(both, "smollm2-pose-cpu",
        Results.begin("smollm2-pose-cpu") + "\nnew\n" + Results.end("smollm2-pose-cpu"));
    assertThat(rerun).contains("\nnew\n").contains(gpu).doesNotContain("8192 -> 16384 tokens");
    assertThat(rerun.indexOf("\nnew\n")).as("replaced in place").isLessThan(rerun.indexOf(gpu));
  }

  @Test
  void readsARealModelsTablePastTheWindowAgainstThePapersFinding() throws IOException {
    Map<Integer, Double> base = Map.of(4096, 1.0, 8192, 1.0, 16384, 0.0, 32768, 0.0);
    Map<Integer, Double> basePpl = Map.of(8192, 8.0, 16384, 30.0);
    List<Results.Row> rows = List.of(
        row("pose", Map.of(4096, 1.0, 8192, 1.0, 16384, 0.9, 32768, 0.8), Map.of(8192, 7.5, 16384, 7.0), base, basePpl),
        row("full", Map.of(4096, 1.0, 8192, 1.0, 16384, 0.9, 32768, 0.7), Map.of(8192, 7.4, 16384, 7.7), base, basePpl),
        row("randpos", Map.of(4096, 1.0, 8192, 0.5, 16384, 0.3, 32768, 0.1), Map.of(8192, 9.0, 16384, 14.0), base,
            basePpl),
        row("none", Map.of(4096, 1.0, 8192, 1.0, 16384, 1.0, 32768, 1.0), Map.of(8192, 8.2, 16384, 7.0), base, basePpl));
    String text = Results.realReading(rows, 8192, 10);
    assertThat(text).startsWith("**What it shows.** Past its 8192-token window (16384 to 32768 tokens) the base model "
            + "retrieves the pass key 0% of the time, and its perplexity at 16384 is 30.00.")
        .contains("mean passkey accuracy (20 prompts each)")
        // ranked by perplexity at the longest length, ties in the order measured
        .contains("- pose: passkey 85%, perplexity 7.00\n- none: passkey 100%, perplexity 7.00\n"
            + "- full: passkey 80%, perplexity 7.70\n- randpos: passkey 20%, perplexity 14.00\n")
        // 85% against 80% is one prompt of 20: the same
        .contains("against full-length fine-tuning, PoSE has no clear passkey difference (one prompt or less) and a "
            + "perplexity 9% lower")
        .contains("against RandPos, PoSE has a higher passkey accuracy and a perplexity 50% lower")
        .contains("against the interpolation alone, PoSE has a lower passkey accuracy and the same perplexity.");
    assertThat(Results.realReading(rows, 32768, 10)).as("nothing measured past the window").isEmpty();

    // a variant cut short (no perplexity, a length missing) is listed with dashes, last, and not compared
    List<Results.Row> cut = List.of(rows.get(0), row("full", Map.of(4096, 1.0, 8192, 1.0, 16384, 0.9), Map.of(8192,
        7.4), base, basePpl), rows.get(2));
    assertThat(Results.realReading(cut, 8192, 10)).contains("- randpos: passkey 20%, perplexity 14.00\n"
            + "- full: passkey -, perplexity -\n")
        .doesNotContain("against full-length").contains("against RandPos").doesNotContain("NaN");

    // the section of a GPU run carries the reading and says how long full-length samples are
    String section = Results.realModel(rows, SpecIO.read(REPO.resolve("examples/smollm2-pose-32k.yaml")),
        Path.of("examples/smollm2-pose-32k.yaml"), new Results.Provenance("an H200", "`x`"), "");
    assertThat(section).contains("samples of 8192 tokens (the training\nwindow; full-length fine-tuning's have up to "
            + "32768) whose position ids reach 32768")
        .contains("**What it shows.** Past its 8192-token window").doesNotContain("Full-length fine-tuning is not");
  }

  private static Results.Row row(String method, Map<Integer, Double> passkey, Map<Integer, Double> ppl,
      Map<Integer, Double> base, Map<Integer, Double> basePpl) {
    return new Results.Row(method, "yarn", false, new java.util.TreeMap<>(passkey), new java.util.TreeMap<>(base),
        new java.util.TreeMap<>(ppl), new java.util.TreeMap<>(basePpl), 1.0, 1);
  }

  @Test
  void measuresTheStepCostOfPoseAndFullLengthAsTheTargetGrows() throws Exception {
    CostCurve.Plan plan = Results.Size.QUICK.cost();
    List<CostCurve.Point> points = CostCurve.measure(REPO.resolve("examples/tiny/base-model"), TinyBase.WINDOW, plan,
        tmp, new PrintWriter(new StringWriter()));
    assertThat(points).extracting(CostCurve.Point::method).containsExactly("window", "pose", "full");
    assertThat(points).extracting(CostCurve.Point::tokensPerSample).containsExactly(128, 128, 256);
    assertThat(points).extracting(CostCurve.Point::positionsReach).containsExactly(128, 256, 256);
    assertThat(points).allSatisfy(p -> {
      assertThat(p.medianStepSeconds()).isPositive();
      assertThat(p.peakRssBytes()).isGreaterThan(1 << 20);
    });
    String md = Results.cost(points, Results.Size.QUICK);
    assertThat(md).contains("| 1x | training at the window | 128 | 128 |").contains("| 2x | PoSE | 128 | 256 |")
        .contains("| 2x | full-length | 256 | 256 |").contains("PoSE at 2x against training at the window: **");
    assertThat(ResultsPlots.cost(points, 128, tmp.resolve("figures"))).extracting(p -> p.getFileName().toString())
        .containsExactly("cost-time.png", "cost-memory.png");
  }
}
