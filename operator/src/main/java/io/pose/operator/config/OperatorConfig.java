package io.pose.operator.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The operator's configuration, read once (prefix {@code pose.operator}, env {@code POSE_OPERATOR_*}). */
@ConfigMapping(prefix = "pose.operator")
public interface OperatorConfig {

  /** Trainer image for stage pods when a resource does not name one (spec.image.name). */
  @WithDefault("ghcr.io/pose-io/pose-trainer:0.1.0")
  String trainerImage();

  /** How often a running resource is reconciled even without events (a safety net, not the main trigger). */
  @WithDefault("5m")
  Duration resyncPeriod();

  /** How long to wait before checking again for a missing Secret. */
  @WithDefault("30s")
  Duration missingInputRetry();

  /**
   * Namespaces to watch; absent means all namespaces. Applied to the controller through
   * quarkus.operator-sdk.controllers.contextextension.namespaces in application.properties.
   */
  Optional<List<String>> watchNamespaces();

  /** The values the reconciler needs, as a plain record (also built directly in tests and tools). */
  default OperatorSettings settings() {
    return new OperatorSettings(trainerImage(), resyncPeriod(), missingInputRetry());
  }
}
