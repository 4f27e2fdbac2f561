package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;

class TrainingPlotTest {
  @TempDir
  Path tmp;

  @Test
  void readsEachStepOnceInOrderAndSkipsTornLines() throws IOException {
    Path log = tmp.resolve("train.jsonl");
    Files.write(log, List.of(
        "{\"step\":2,\"loss\":2.5,\"learningRate\":0.001}",
        "{\"step\":1,\"loss\":3.0,\"learningRate\":0.0}",
        "{\"step\":2,\"loss\":2.4,\"learningRate\":0.001}",
        "{\"step\":3,\"loss\":"));
    assertThat(TrainingPlot.read(log)).containsExactly(new TrainingPlot.Point(1, 3.0, 0.0),
        new TrainingPlot.Point(2, 2.4, 0.001));
  }

  @Test
  void plotsLossOnTheLeftAndTheLearningRateOnTheRight() throws IOException {
    Path log = tmp.resolve("train.jsonl");
    Files.write(log, List.of("{\"step\":1,\"loss\":3.0,\"learningRate\":0.0}",
        "{\"step\":2,\"loss\":2.0,\"learningRate\":0.001}"));
    XYChart chart = TrainingPlot.chart(TrainingPlot.read(log), "tiny");
    assertThat(chart.getTitle()).isEqualTo("Training: tiny");
    assertThat(chart.getXAxisTitle()).isEqualTo("step");
    assertThat(chart.getYAxisTitle()).isEqualTo("loss");
    assertThat(chart.getYAxisGroupTitle(1)).isEqualTo("learning rate");
    assertThat(chart.getSeries("training loss").getYAxisGroup()).isZero();
    assertThat(chart.getSeries("learning rate (right axis)").getYAxisGroup()).isEqualTo(1);
    Path png = tmp.resolve("training.png");
    assertThat(TrainingPlot.write(log, png, "tiny")).isTrue();
    assertThat(ImageIO.read(png.toFile()).getWidth()).isEqualTo(800);
  }

  @Test
  void writesNothingWithoutSteps() throws IOException {
    Path log = Files.writeString(tmp.resolve("train.jsonl"), "");
    assertThat(TrainingPlot.write(log, tmp.resolve("a.png"), null)).isFalse();
    assertThat(TrainingPlot.write(tmp.resolve("none.jsonl"), tmp.resolve("b.png"), null)).isFalse();
    assertThat(tmp.resolve("a.png")).doesNotExist();
  }
}
