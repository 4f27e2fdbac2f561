package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.api.progress.EvaluationResults;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;

class LengthChartTest {
  @TempDir
  Path tmp;

  @Test
  void labelsEveryMeasuredLengthAndNothingBetween() {
    LengthChart c = LengthChart.of("t", "x", "y", List.of(512, 128, 384, 256, 128));
    assertThat(c.lengths()).containsExactly(128, 256, 384, 512);
    assertThat(List.of(0.0, 1.0, 2.0, 3.0)).extracting(c::tickLabel).containsExactly("128", "256", "384", "512");
    assertThat(List.of(-1.0, 0.5, 4.0)).extracting(c::tickLabel).allMatch(String::isBlank);
  }

  @Test
  void placesLengthsBetweenTicksByInterpolation() {
    LengthChart c = LengthChart.of("t", "x", "y", List.of(4096, 8192, 16384, 32768));
    assertThat(c.position(8192)).isEqualTo(1.0);
    assertThat(c.position(12288)).isEqualTo(1.5);
    assertThat(c.position(24576)).isEqualTo(2.5);
  }

  @Test
  void marksTheWindowAndTargetOnlyWhereTheAxisReaches() {
    LengthChart c = LengthChart.of("t", "x", "y", List.of(4096, 8192, 16384)).mark(8192, "original window 8192")
        .mark(16384, "target 16384").mark(1024, "training window 1024").mark(null, "nothing");
    assertThat(c.marks()).containsOnly(Map.entry("original window 8192", 8192), Map.entry("target 16384", 16384));
  }

  @Test
  void drawsEachSeriesWithItsOwnMarkerDodgedSoThatEqualValuesStayVisible() {
    Map<Integer, Double> zeros = new LinkedHashMap<>(Map.of(128, 0.0, 256, 0.0));
    Map<Integer, Double> withGap = new LinkedHashMap<>();
    withGap.put(128, 0.0);
    withGap.put(256, null);
    withGap.put(999, 1.0); // not a length of the chart
    LengthChart c = LengthChart.of("t", "x", "y", List.of(128, 256)).unitRange().series("a", zeros)
        .series("b", withGap).series("empty", Map.of());
    assertThat(c.seriesNames()).containsExactly("a", "b");
    XYChart chart = c.build();
    XYSeries a = chart.getSeries("a");
    XYSeries b = chart.getSeries("b");
    assertThat(a.getMarker()).isNotEqualTo(b.getMarker());
    assertThat(a.getLineColor()).isNotEqualTo(b.getLineColor());
    assertThat(b.getXData()).hasSize(1);
    // the same value at the same length sits at two different x positions, each within a fifth of a step
    double ax = a.getXData()[0];
    double bx = b.getXData()[0];
    assertThat(ax).isNotEqualTo(bx);
    assertThat(Math.abs(ax)).isLessThan(0.2);
    assertThat(Math.abs(bx)).isLessThan(0.2);
  }

  @Test
  void evalPlotsMarkTheOriginalWindowAndTheTarget() throws IOException {
    EvaluationResults r = new EvaluationResults();
    for (int length : List.of(128, 256, 384, 512)) {
      r.getPasskey().add(new EvaluationResults.PasskeyResult(length, 10, length == 128 ? 1.0 : 0.9,
          length == 128 ? 1.0 : 0.1));
    }
    r.getPerplexity().add(new EvaluationResults.PerplexityResult(128, 1, 3.9, 4.9));
    r.getPerplexity().add(new EvaluationResults.PerplexityResult(512, 1, 4.1, 7.0));
    EvalReport.Marks marks = new EvalReport.Marks(128, 512);
    LengthChart passkey = EvalReport.passkeyChart(r, "tiny", marks);
    assertThat(passkey.marks()).containsOnly(Map.entry("original window 128", 128), Map.entry("target 512", 512));
    assertThat(passkey.seriesNames()).containsExactly("extended model", "base model");
    assertThat(passkey.lengths()).containsExactly(128, 256, 384, 512);
    // every length is written on the axis: the chart's texts hold each of them and the marks' names
    XYChart chart = passkey.build();
    assertThat(texts(chart)).contains("128", "256", "384", "512", "original window 128", "target 512");
    assertThat(EvalReport.perplexityChart(r, "tiny", marks).lengths()).containsExactly(128, 512);

    EvalReport.write(tmp.resolve("eval"), r, "tiny", marks);
    BufferedImage png = ImageIO.read(tmp.resolve("eval/passkey.png").toFile());
    assertThat(png.getWidth()).isEqualTo(800);
    assertThat(png.getHeight()).isEqualTo(500);
    assertThat(ImageIO.read(tmp.resolve("eval/perplexity.png").toFile())).isNotNull();
  }

  @Test
  void refusesAChartWithoutLengths() {
    assertThatThrownBy(() -> LengthChart.of("t", "x", "y", List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  private static List<String> texts(XYChart chart) {
    try {
      var field = org.knowm.xchart.internal.chartpart.AxesChart.class.getDeclaredField("annotations");
      field.setAccessible(true);
      @SuppressWarnings("unchecked")
      List<Object> annotations = (List<Object>) field.get(chart);
      var text = AnnotationText.class.getDeclaredField("text");
      text.setAccessible(true);
      return annotations.stream().filter(AnnotationText.class::isInstance).map(a -> {
        try {
          return (String) text.get(a);
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }).toList();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }
}
