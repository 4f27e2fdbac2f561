package io.pose.api.validation;

/**
 * One broken rule: the field (as a spec path), the offending value and the rule it breaks. Renders as
 * {@code spec.pose.chunks: 0 is less than the minimum 1}.
 */
public record Violation(String field, Object value, String rule) {

  @Override
  public String toString() {
    return value == null ? field + ": " + rule : field + ": " + render(value) + " " + rule;
  }

  private static String render(Object value) {
    return value instanceof CharSequence s ? "\"" + s + "\"" : String.valueOf(value);
  }
}
