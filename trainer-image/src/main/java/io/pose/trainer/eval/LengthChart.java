package io.pose.trainer.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A figure of a measure against context length, made to be read at a glance: every measured length is labelled on
 * the x axis (the lengths sit at equal steps, as in the PoSE paper's figures), the original window and the target are
 * dashed vertical lines with their names, each series has its own colour and marker shape and is dodged sideways by
 * a fraction of a step so that equal values never hide one another, and the legend sits below the plot.
 */
public final class LengthChart {
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
      new Color(0xd62728), new Color(0x9467bd), new Color(0x444444), new Color(0x8c564b)};
  private static final Marker[] MARKERS = {SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE, SeriesMarkers.DIAMOND,
      SeriesMarkers.TRIANGLE_UP, SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS};
  private static final double DODGE = 0.07;

  private final String title;
  private final String xTitle;
  private final String yTitle;
  private final List<Integer> lengths;
  private final Map<String, Map<Integer, Double>> series = new LinkedHashMap<>();
  private final Map<String, Integer> marks = new LinkedHashMap<>();
  private boolean unitRange;

  private LengthChart(String title, String xTitle, String yTitle, List<Integer> lengths) {
    this.title = title;
    this.xTitle = xTitle;
    this.yTitle = yTitle;
    this.lengths = List.copyOf(new TreeSet<>(lengths));
  }

  /** A chart over the given lengths (each becomes a tick, in increasing order). */
  public static LengthChart of(String title, String xTitle, String yTitle, List<Integer> lengths) {
    if (lengths.isEmpty()) {
      throw new IllegalArgumentException("a length chart needs at least one length");
    }
    return new LengthChart(title, xTitle, yTitle, lengths);
  }

  /** A y axis from 0 to 1 (accuracies). */
  public LengthChart unitRange() {
    this.unitRange = true;
    return this;
  }

  /** A dashed vertical line at a length, named (e.g. "original window 128", "target 512"); null lengths are skipped. */
  public LengthChart mark(Integer length, String label) {
    if (length != null && length >= lengths.get(0) && length <= lengths.get(lengths.size() - 1)) {
      marks.merge(label, length, (a, b) -> b);
    }
    return this;
  }

  /** A series: a value per length (lengths not on the chart, nulls and non-finite values are left out). */
  public LengthChart series(String name, Map<Integer, Double> values) {
    Map<Integer, Double> kept = new TreeMap<>();
    values.forEach((length, v) -> {
      if (v != null && Double.isFinite(v) && lengths.contains(length)) {
        kept.put(length, v);
      }
    });
    if (!kept.isEmpty()) {
      series.put(name, kept);
    }
    return this;
  }

  /** The label of the x axis at an x value: the length at a tick (0, 1, 2, ...), nothing between ticks. */
  public String tickLabel(double x) {
    long i = Math.round(x);
    return Math.abs(x - i) < 1e-6 && i >= 0 && i < lengths.size() ? Integer.toString(lengths.get((int) i)) : " ";
  }

  /** Where a length sits on the x axis: its tick, or between its neighbours' ticks. */
  public double position(int length) {
    int i = lengths.indexOf(length);
    if (i >= 0) {
      return i;
    }
    for (int k = 1; k < lengths.size(); k++) {
      if (length < lengths.get(k)) {
        int a = lengths.get(k - 1);
        return k - 1 + (double) (length - a) / (lengths.get(k) - a);
      }
    }
    return lengths.size() - 1;
  }

  /** The marks drawn: label to length. */
  public Map<String, Integer> marks() {
    return Map.copyOf(marks);
  }

  /** The lengths labelled on the x axis, in order. */
  public List<Integer> lengths() {
    return lengths;
  }

  /** The names of the series drawn, in order. */
  public List<String> seriesNames() {
    return List.copyOf(series.keySet());
  }

  /** The chart, ready to paint. */
  public XYChart build() {
    XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle)
        .build();
    Styler s = chart.getStyler();
    s.setLegendPosition(Styler.LegendPosition.OutsideS);
    s.setLegendLayout(Styler.LegendLayout.Horizontal);
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    chart.getStyler().setXAxisMin(-0.5);
    chart.getStyler().setXAxisMax(lengths.size() - 0.5);
    // XChart places numeric ticks where it likes; the lengths are written at their own places instead, inside the
    // plot just above the axis
    chart.getStyler().setXAxisTicksVisible(false);
    chart.getStyler().setPlotGridVerticalLinesVisible(false);
    chart.getStyler().setAnnotationTextFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 12));
    double max = series.values().stream().flatMap(m -> m.values().stream()).mapToDouble(Double::doubleValue).max()
        .orElse(1);
    double min = series.values().stream().flatMap(m -> m.values().stream()).mapToDouble(Double::doubleValue).min()
        .orElse(0);
    double top = unitRange ? 1.0 : max;
    double bottom = unitRange ? 0.0 : Math.min(0, min);
    double span = Math.max(1e-9, top - bottom);
    chart.getStyler().setYAxisMin(bottom - 0.1 * span);
    chart.getStyler().setYAxisMax(top + 0.18 * span);
    for (int t = 0; t < lengths.size(); t++) {
      chart.addAnnotation(new AnnotationText(tickLabel(t), t, bottom - 0.06 * span, false));
    }
    int k = series.size();
    int i = 0;
    for (Map.Entry<String, Map<Integer, Double>> e : series.entrySet()) {
      double offset = (i - (k - 1) / 2.0) * DODGE;
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      e.getValue().forEach((length, v) -> {
        xs.add(position(length) + offset);
        ys.add(v);
      });
      XYSeries line = chart.addSeries(e.getKey(), xs, ys);
      Color color = COLORS[i % COLORS.length];
      line.setMarker(MARKERS[i % MARKERS.length]);
      line.setLineColor(color);
      line.setMarkerColor(color);
      line.setLineStyle(new BasicStroke(2f));
      i++;
    }
    if (!marks.isEmpty()) {
      chart.getStyler().setAnnotationLineColor(new Color(0x777777));
      chart.getStyler().setAnnotationLineStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
          new float[] {6f, 4f}, 0f));
      chart.getStyler().setAnnotationTextFontColor(new Color(0x444444));
      // labels stacked in the headroom above the data, so that they never cover a point
      int row = 0;
      for (Map.Entry<String, Integer> m : marks.entrySet()) {
        double x = position(m.getValue());
        chart.addAnnotation(new AnnotationLine(x, true, false));
        chart.addAnnotation(new AnnotationText(m.getKey(), x, top + (0.13 - 0.06 * (row++ % 2)) * span, false));
      }
    }
    return chart;
  }

  /** Writes the chart as a PNG file. */
  public void save(Path file) throws IOException {
    BitmapEncoder.saveBitmap(build(), file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
