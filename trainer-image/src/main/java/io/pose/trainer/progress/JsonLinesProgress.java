package io.pose.trainer.progress;

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
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Machine-readable progress: a JSON line per step appended to logs/train.jsonl, and the latest report, in the
 * progress protocol's train.json schema, replaced atomically in logs/train-progress.json (what the progress
 * ConfigMap carries in a cluster).
 */
public final class JsonLinesProgress implements ProgressListener {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final Writer lines;
  private final Path report;
  private final Throughput throughput = new Throughput();
  private TrainReport last;

  public JsonLinesProgress(Path logDirectory) throws IOException {
    Files.createDirectories(logDirectory);
    this.lines = Files.newBufferedWriter(logDirectory.resolve("train.jsonl"), StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    this.report = logDirectory.resolve("train-progress.json");
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
