package io.pose.operator.config;

import java.time.Duration;

/** What reconciliation needs from the operator's configuration. */
public record OperatorSettings(String trainerImage, Duration resyncPeriod, Duration missingInputRetry) {

  /** The defaults of {@link OperatorConfig}. */
  public static OperatorSettings defaults() {
    return new OperatorSettings("ghcr.io/pose-io/pose-trainer:0.1.0", Duration.ofMinutes(5), Duration.ofSeconds(30));
  }
}
