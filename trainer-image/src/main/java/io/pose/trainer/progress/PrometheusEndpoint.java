package io.pose.trainer.progress;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pose.trainer.train.StepResult;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The trainer's metrics for Prometheus on {@code GET /metrics} (text exposition format): step, loss, learning
 * rate, gradient norm, throughput, tokens and step times, the largest position trained, the last checkpoint, and
 * the JVM's memory, GC and threads. {@code GET /healthz} answers 200 while the process is up.
 */
public final class PrometheusEndpoint implements ProgressListener {

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final HttpServer server;
  private final AtomicReference<StepResult> last = new AtomicReference<>();
  private final Throughput throughput = new Throughput();
  private volatile int totalSteps;
  private volatile double lastCheckpoint = Double.NaN;
  private volatile double tokensPerSecond;
  private final Counter tokens;
  private final Timer stepTime;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  /**
   * Starts serving.
   *
   * @param port the port (0: any free one, see {@link #port()})
   * @param run the ContextExtension's name, a label of every metric
   */
  public PrometheusEndpoint(int port, String run) throws IOException {
    registry.config().commonTags("run", run);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    gauge("pose_train_step", "Optimizer steps done", () -> value(StepResult::step));
    gauge("pose_train_total_steps", "Optimizer steps the run makes", () -> totalSteps);
    gauge("pose_train_loss", "Mean next-token loss of the last step", () -> value(StepResult::loss));
    gauge("pose_train_learning_rate", "Learning rate of the last step", () -> value(StepResult::learningRate));
    gauge("pose_train_grad_norm", "Global gradient norm of the last step, before clipping",
        () -> value(StepResult::gradNorm));
    gauge("pose_train_tokens_per_second", "Training tokens per second over the last 20 steps", () -> tokensPerSecond);
    gauge("pose_train_max_position", "Largest position id of the last step (PoSE reaches the target length - 1)",
        () -> value(StepResult::maxPosition));
    gauge("pose_train_max_sample_length", "Longest sample of the last step (the attention cost: the training window)",
        () -> value(StepResult::maxSampleLength));
    gauge("pose_train_last_checkpoint_step", "Step of the newest checkpoint", () -> lastCheckpoint);
    tokens = Counter.builder("pose_train_tokens").description("Training tokens processed (padding excluded)")
        .register(registry);
    stepTime = Timer.builder("pose_train_step_duration").description("Wall time of an optimizer step")
        .register(registry);

    server = HttpServer.create(new InetSocketAddress(port), 0);
    server.createContext("/metrics", this::metrics);
    server.createContext("/healthz", exchange -> respond(exchange, 200, "text/plain", "ok\n"));
    server.setExecutor(Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "pose-metrics");
      t.setDaemon(true);
      return t;
    }));
    server.start();
  }

  /** The port the endpoint listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void step(StepResult r, int totalSteps, Integer lastCheckpointStep) {
    throughput.add(r);
    this.totalSteps = totalSteps;
    this.tokensPerSecond = throughput.tokensPerSecond();
    if (lastCheckpointStep != null) {
      lastCheckpoint = lastCheckpointStep;
    }
    tokens.increment(r.tokens());
    stepTime.record(Duration.ofNanos((long) (r.seconds() * 1e9)));
    last.set(r);
  }

  private void gauge(String name, String help, java.util.function.DoubleSupplier value) {
    Gauge.builder(name, () -> value.getAsDouble()).description(help).register(registry);
  }

  private double value(java.util.function.ToDoubleFunction<StepResult> f) {
    StepResult r = last.get();
    return r == null ? Double.NaN : f.applyAsDouble(r);
  }

  private void metrics(HttpExchange exchange) throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, "text/plain", "GET only\n");
      return;
    }
    respond(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
  }

  private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    gc.close();
    registry.close();
  }
}
