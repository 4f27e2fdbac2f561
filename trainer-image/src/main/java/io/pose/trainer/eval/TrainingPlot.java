package io.pose.trainer.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * training.png: the training loss and the learning rate against the step, from the Train stage's logs/train.jsonl
 * (the loss on the left axis, the learning rate on the right). A step logged twice, as by a run resumed before its
 * log was cleaned, counts once (the later line).
 */
public final class TrainingPlot {
  private TrainingPlot() {}

  public static final String FILE = "training.png";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One logged step. */
  public record Point(int step, double loss, double learningRate) {}

  /** The steps of a train.jsonl, in step order; lines that are not whole JSON objects with a step are skipped. */
  public static List<Point> read(Path trainLog) throws IOException {
    TreeMap<Integer, Point> points = new TreeMap<>();
    for (String line : Files.readAllLines(trainLog, StandardCharsets.UTF_8)) {
      JsonNode n;
      try {
        n = JSON.readTree(line);
      } catch (IOException torn) {
        continue;
      }
      if (n != null && n.path("step").isInt() && n.path("loss").isNumber()) {
        points.put(n.path("step").asInt(), new Point(n.path("step").asInt(), n.path("loss").asDouble(),
            n.path("learningRate").asDouble(Double.NaN)));
      }
    }
    return List.copyOf(points.values());
  }

  /** The chart of the points. */
  public static XYChart chart(List<Point> points, String title) {
    XYChart chart = new XYChartBuilder().width(800).height(500)
        .title(title == null ? "Training" : "Training: " + title).xAxisTitle("step").yAxisTitle("loss").build();
    Styler s = chart.getStyler();
    s.setLegendPosition(Styler.LegendPosition.OutsideS);
    s.setLegendLayout(Styler.LegendLayout.Horizontal);
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    chart.getStyler().setXAxisDecimalPattern("#");
    chart.getStyler().setYAxisGroupPosition(1, org.knowm.xchart.style.AxesChartStyler.YAxisPosition.Right);
    chart.setYAxisGroupTitle(1, "learning rate");
    List<Double> steps = new ArrayList<>();
    List<Double> loss = new ArrayList<>();
    List<Double> lr = new ArrayList<>();
    for (Point p : points) {
      steps.add((double) p.step());
      loss.add(p.loss());
      lr.add(Double.isFinite(p.learningRate()) ? p.learningRate() : 0.0);
    }
    boolean markers = points.size() <= 60;
    XYSeries l = chart.addSeries("training loss", steps, loss);
    l.setLineColor(new Color(0x1f77b4));
    l.setMarkerColor(new Color(0x1f77b4));
    l.setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    l.setLineStyle(new BasicStroke(1.5f));
    XYSeries r = chart.addSeries("learning rate (right axis)", steps, lr);
    r.setYAxisGroup(1);
    r.setLineColor(new Color(0xff7f0e));
    r.setMarkerColor(new Color(0xff7f0e));
    r.setMarker(markers ? SeriesMarkers.DIAMOND : SeriesMarkers.NONE);
    r.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 3f}, 0f));
    return chart;
  }

  /** Writes the chart of a train.jsonl as a PNG; false (and nothing written) when it logs no step. */
  public static boolean write(Path trainLog, Path png, String title) throws IOException {
    if (!Files.isRegularFile(trainLog)) {
      return false;
    }
    List<Point> points = read(trainLog);
    if (points.isEmpty()) {
      return false;
    }
    BitmapEncoder.saveBitmap(chart(points, title), png.toString(), BitmapEncoder.BitmapFormat.PNG);
    return true;
  }
}
