package io.pose.api.validation;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Validates a ContextExtension in Java with the same rules the CRD gives the API server: the field
 * constraints are read from the very annotations the CRD generator reads ({@link Required}, {@link Min},
 * {@link Max}, {@link Pattern}, {@link Size}), the cross-field rules come from {@link Rules}.
 */
public final class SpecValidator {
  private SpecValidator() {}

  private static final String MODEL_PACKAGE = ContextExtensionSpec.class.getPackageName();
  private static final Map<String, java.util.regex.Pattern> PATTERNS = new ConcurrentHashMap<>();

  /** All violations of the resource: its name and its spec. */
  public static List<Violation> validate(ContextExtension resource) {
    List<Violation> violations = new ArrayList<>();
    String name = resource.getMetadata() == null ? null : resource.getMetadata().getName();
    if (name == null || name.isEmpty()) {
      violations.add(new Violation("metadata.name", null, "is required"));
    } else if (!name.matches("^[a-z]([-a-z0-9]*[a-z0-9])?$") || name.length() > Rules.MAX_NAME_LENGTH) {
      violations.add(new Violation("metadata.name", name, Rules.NAME_MESSAGE));
    }
    if (resource.getSpec() == null) {
      violations.add(new Violation("spec", null, "is required"));
    } else {
      violations.addAll(validate(resource.getSpec()));
    }
    return violations;
  }

  /** All violations of a spec as written (defaults not applied). */
  public static List<Violation> validate(ContextExtensionSpec spec) {
    List<Violation> violations = new ArrayList<>();
    walk("spec", spec, violations);
    if (!violations.isEmpty()) {
      return violations; // cross-field rules assume the fields are present and in range
    }
    for (Rules.Rule rule : Rules.SPEC_RULES) {
      if (!rule.holds().test(spec)) {
        violations.add(new Violation(rule.field(), rule.value().apply(spec), rule.message()));
      }
    }
    return violations;
  }

  /**
   * Violations once the model's original context length is known (from its config.json): the same rules,
   * evaluated as if {@code spec.model.originalContextLength} had been written.
   */
  public static List<Violation> validateWithModel(ContextExtensionSpec spec, int modelOriginalContextLength) {
    if (spec.getModel() != null && spec.getModel().getOriginalContextLength() != null) {
      return validate(spec);
    }
    ContextExtensionSpec copy = io.pose.api.SpecIO.copy(spec);
    copy.getModel().setOriginalContextLength(modelOriginalContextLength);
    List<Violation> out = new ArrayList<>();
    for (Violation v : validate(copy)) {
      out.add(v.rule().contains("spec.model.originalContextLength")
          ? new Violation(v.field(), v.value(), v.rule().replace("spec.model.originalContextLength",
              "the model's original context length " + modelOriginalContextLength + " (from its config.json)"))
          : v);
    }
    return out;
  }

  /** Throws when the spec breaks any rule. */
  public static void requireValid(ContextExtension resource) {
    List<Violation> violations = validate(resource);
    if (!violations.isEmpty()) {
      throw new SpecValidationException(violations);
    }
  }

  private static void walk(String path, Object object, List<Violation> out) {
    for (Field field : fields(object.getClass())) {
      String childPath = path + "." + propertyName(field);
      Object value;
      try {
        value = field.get(object);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException(e);
      }
      check(field, childPath, value, out);
      if (value == null) {
        continue;
      }
      if (isModel(value)) {
        walk(childPath, value, out);
      } else if (value instanceof List<?> list) {
        for (int i = 0; i < list.size(); i++) {
          Object item = list.get(i);
          if (item == null) {
            out.add(new Violation(childPath + "[" + i + "]", null, "must not be null"));
          } else if (isModel(item)) {
            walk(childPath + "[" + i + "]", item, out);
          }
        }
      }
    }
  }

  private static void check(Field field, String path, Object value, List<Violation> out) {
    if (value == null) {
      if (field.isAnnotationPresent(Required.class)) {
        out.add(new Violation(path, null, "is required"));
      }
      return;
    }
    Min min = field.getAnnotation(Min.class);
    if (min != null && value instanceof Number n) {
      double v = n.doubleValue();
      if (min.inclusive() ? v < min.value() : v <= min.value()) {
        out.add(new Violation(path, value, (min.inclusive() ? "is less than the minimum " : "must be greater than ")
            + format(min.value())));
      }
    }
    Max max = field.getAnnotation(Max.class);
    if (max != null && value instanceof Number n) {
      double v = n.doubleValue();
      if (max.inclusive() ? v > max.value() : v >= max.value()) {
        out.add(new Violation(path, value, (max.inclusive() ? "is greater than the maximum " : "must be less than ")
            + format(max.value())));
      }
    }
    Pattern pattern = field.getAnnotation(Pattern.class);
    if (pattern != null && value instanceof String s
        && !PATTERNS.computeIfAbsent(pattern.value(), java.util.regex.Pattern::compile).matcher(s).find()) {
      out.add(new Violation(path, value, "is not " + Rules.PATTERN_DESCRIPTIONS.getOrDefault(pattern.value(),
          "of the form " + pattern.value())));
    }
    Size size = field.getAnnotation(Size.class);
    if (size != null) {
      long n = value instanceof String s ? s.length()
          : value instanceof Collection<?> c ? c.size() : value instanceof Map<?, ?> m ? m.size() : -1;
      String unit = value instanceof String ? " characters" : " items";
      if (n >= 0 && n < size.min()) {
        out.add(new Violation(path, value instanceof String ? value : null, "must have at least " + size.min() + unit));
      }
      if (n >= 0 && n > size.max()) {
        out.add(new Violation(path, value instanceof String ? value : null, "must have at most " + size.max() + unit));
      }
    }
  }

  private static String format(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d) : String.valueOf(d);
  }

  private static boolean isModel(Object value) {
    return value.getClass().getPackageName().equals(MODEL_PACKAGE) && !value.getClass().isEnum();
  }

  private static String propertyName(Field field) {
    JsonProperty p = field.getAnnotation(JsonProperty.class);
    return p != null && !p.value().isEmpty() ? p.value() : field.getName();
  }

  private static final Map<Class<?>, List<Field>> FIELDS = new ConcurrentHashMap<>();

  private static List<Field> fields(Class<?> type) {
    return FIELDS.computeIfAbsent(type, t -> {
      List<Field> list = new ArrayList<>();
      for (Field f : t.getDeclaredFields()) {
        if (!Modifier.isStatic(f.getModifiers())) {
          f.setAccessible(true);
          list.add(f);
        }
      }
      return List.copyOf(list);
    });
  }
}
