package io.pose.trainer.progress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.TrainReport;
import io.pose.trainer.train.StepResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Machine-readable progress: a JSON line per step appended to logs/train.jsonl, and the latest report, in the
 * progress protocol's train.json schema, replaced atomically in logs/train-progress.json (what the progress
 * ConfigMap carries in a cluster).
 */
public final class JsonLinesProgress implements ProgressListener {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path file;
  private Writer lines;
  private final Path report;
  private final Throughput throughput = new Throughput();
  private TrainReport last;

  public JsonLinesProgress(Path logDirectory) throws IOException {
    Files.createDirectories(logDirectory);
    this.file = logDirectory.resolve("train.jsonl");
    this.lines = open(file);
    this.report = logDirectory.resolve("train-progress.json");
  }

  private static Writer open(Path file) throws IOException {
    return Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  /**
   * Keeps the lines of the steps up to {@code fromStep} and drops the rest (the steps an interrupted run did after
   * its last checkpoint, which this run does again, and a line torn by a crash), so that every step appears once.
   */
  @Override
  public void starting(int fromStep) {
    try {
      lines.close();
      List<String> kept = new ArrayList<>();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        try {
          JsonNode n = JSON.readTree(line);
          if (n != null && n.path("step").isInt() && n.path("step").asInt() <= fromStep) {
            kept.add(line);
          }
        } catch (IOException torn) {
          // an incomplete last line: dropped
        }
      }
      Path temp = file.resolveSibling(file.getFileName() + ".partial");
      Files.write(temp, kept, StandardCharsets.UTF_8);
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      lines = open(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void step(StepResult r, int totalSteps, Integer lastCheckpointStep) {
    throughput.add(r);
    try {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("time", Instant.now().toString());
      line.put("step", r.step());
      line.put("totalSteps", totalSteps);
      line.put("loss", r.loss());
      line.put("learningRate", r.learningRate());
      line.put("gradNorm", r.gradNorm());
      line.put("tokens", r.tokens());
      line.put("seconds", r.seconds());
      line.put("maxPosition", r.maxPosition());
      line.put("maxSampleLength", r.maxSampleLength());
      lines.write(JSON.writeValueAsString(line));
      lines.write('\n');
      lines.flush();

      last = TrainReports.of(r, totalSteps, lastCheckpointStep, throughput);
      writeReport();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void modelWritten(String modelUri, int step) {
    last = TrainReports.completed(last, modelUri, step);
    try {
      writeReport();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void writeReport() throws IOException {
    Path temp = report.resolveSibling(report.getFileName() + ".partial");
    Files.writeString(temp, ProgressProtocol.write(last));
    Files.move(temp, report, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public void close() {
    try {
      lines.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
