package io.pose.operator.status;

import io.pose.api.v1alpha1.Stage;
import java.util.Map;
import java.util.Optional;

/**
 * What the reconciler found out beyond the Jobs themselves.
 *
 * @param invalid the spec (or the fetched model) breaks a rule: no new stage starts
 * @param gate the quality gate failed: the pipeline ends before Publish
 * @param waiting the next stage waits for something the user must provide (a Secret)
 * @param failures details of failed stages, from their pods' termination messages
 */
public record Verdict(Optional<Problem> invalid, Optional<Problem> gate, Optional<Problem> waiting,
    Map<Stage, Problem> failures) {

  public static Verdict clean() {
    return new Verdict(Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
  }

  /** True when the next stage may be created. */
  public boolean allowsNextStage() {
    return invalid.isEmpty() && gate.isEmpty() && waiting.isEmpty();
  }
}
