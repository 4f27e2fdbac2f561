package io.pose.api.validation;

import java.util.List;
import java.util.stream.Collectors;

/** A spec that breaks one or more rules; the message lists every violation, one per line. */
public class SpecValidationException extends RuntimeException {
  private final List<Violation> violations;

  public SpecValidationException(List<Violation> violations) {
    super(violations.stream().map(Violation::toString).collect(Collectors.joining("\n")));
    this.violations = List.copyOf(violations);
  }

  public List<Violation> violations() {
    return violations;
  }
}
