package io.pose.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.validation.SpecValidationException;
import io.pose.api.validation.Violation;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads and writes ContextExtension documents (YAML or JSON) strictly: an unknown field, a value of the
 * wrong type or an unknown enum value is an error naming the field, never silently ignored.
 */
public final class SpecIO {
  private SpecIO() {}

  private static final YAMLMapper STRICT_YAML = YAMLMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
      .build();

  private static final ObjectMapper CANONICAL_JSON = JsonMapper.builder()
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
      .enable(com.fasterxml.jackson.databind.MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
      .build();

  /** Reads one ContextExtension from a file. */
  public static ContextExtension read(Path file) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file + ": no such file");
    }
    return parse(text, file.toString());
  }

  /**
   * Parses one ContextExtension document.
   *
   * @param origin where the text came from, for messages
   * @throws SpecValidationException when the document is not a well-formed ContextExtension
   */
  public static ContextExtension parse(String text, String origin) {
    JsonNode tree;
    try {
      List<JsonNode> docs = STRICT_YAML.readValues(STRICT_YAML.createParser(text), JsonNode.class).readAll();
      docs.removeIf(d -> d == null || d.isNull() || d.isMissingNode());
      if (docs.size() != 1) {
        throw invalid("(document)", null, origin + " must hold exactly one ContextExtension document, found " + docs.size());
      }
      tree = docs.get(0);
    } catch (IOException e) {
      throw invalid("(document)", null, syntaxError(e, origin));
    }
    if (!tree.isObject()) {
      throw invalid("(document)", null, "must be a mapping with apiVersion, kind, metadata and spec");
    }
    String apiVersion = tree.path("apiVersion").asText(null);
    String kind = tree.path("kind").asText(null);
    if (!ContextExtension.API_VERSION.equals(apiVersion)) {
      throw invalid("apiVersion", apiVersion, "must be " + ContextExtension.API_VERSION);
    }
    if (!ContextExtension.KIND.equals(kind)) {
      throw invalid("kind", kind, "must be " + ContextExtension.KIND);
    }
    try {
      return STRICT_YAML.treeToValue(tree, ContextExtension.class);
    } catch (JsonProcessingException e) {
      throw translate(e);
    }
  }

  /** The resource as YAML (nulls omitted). */
  public static String toYaml(Object value) {
    try {
      return STRICT_YAML.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** A deep copy of a spec. */
  public static ContextExtensionSpec copy(ContextExtensionSpec spec) {
    return STRICT_YAML.convertValue(spec, ContextExtensionSpec.class);
  }

  /**
   * Digests of the spec fields that may not change once a run started, e.g.
   * {@code model=1f2e3d4c,targetContextLength=...}; compared by the operator where no CEL ran.
   */
  public static String fingerprint(ContextExtensionSpec spec) {
    Map<String, Object> fields = new java.util.LinkedHashMap<>();
    fields.put("model", spec.getModel());
    fields.put("targetContextLength", spec.getTargetContextLength());
    fields.put("ropeScaling", spec.getRopeScaling());
    fields.put("pose", spec.getPose());
    fields.put("training", spec.getTraining());
    fields.put("storage", spec.getStorage());
    return fields.entrySet().stream().map(e -> e.getKey() + "=" + digest(e.getValue())).collect(Collectors.joining(","));
  }

  /** The names of the immutable fields whose digests differ between two fingerprints. */
  public static List<String> changedFields(String accepted, String current) {
    Map<String, String> a = parseFingerprint(accepted);
    Map<String, String> c = parseFingerprint(current);
    List<String> changed = new ArrayList<>();
    for (String key : c.keySet()) {
      if (!c.get(key).equals(a.get(key))) {
        changed.add("spec." + key);
      }
    }
    return changed;
  }

  private static Map<String, String> parseFingerprint(String fp) {
    return Arrays.stream(fp.split(",")).map(s -> s.split("=", 2)).filter(p -> p.length == 2)
        .collect(Collectors.toMap(p -> p[0], p -> p[1], (x, y) -> x, java.util.LinkedHashMap::new));
  }

  private static String digest(Object value) {
    try {
      byte[] json = CANONICAL_JSON.writeValueAsBytes(CANONICAL_JSON.valueToTree(value));
      byte[] sha = MessageDigest.getInstance("SHA-256").digest(json);
      return HexFormat.of().formatHex(sha, 0, 4);
    } catch (JsonProcessingException | NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A YAML or JSON syntax error as an editor reports it: the file, line and column of the problem, what was wrong
   * there, and where the construct it breaks began.
   */
  static String syntaxError(IOException e, String origin) {
    if (e.getCause() instanceof org.yaml.snakeyaml.error.MarkedYAMLException m && m.getProblemMark() != null) {
      StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "%s:%d:%d: not valid YAML: %s",
          origin, m.getProblemMark().getLine() + 1, m.getProblemMark().getColumn() + 1, m.getProblem()));
      if (m.getContext() != null) {
        b.append(" (").append(m.getContext());
        if (m.getContextMark() != null) {
          b.append(String.format(java.util.Locale.ROOT, " that begins at line %d, column %d",
              m.getContextMark().getLine() + 1, m.getContextMark().getColumn() + 1));
        }
        b.append(')');
      }
      return b.toString();
    }
    if (e instanceof JsonProcessingException j && j.getLocation() != null && j.getLocation().getLineNr() > 0) {
      return String.format(java.util.Locale.ROOT, "%s:%d:%d: not valid YAML or JSON: %s", origin,
          j.getLocation().getLineNr(), j.getLocation().getColumnNr(), firstLine(j.getOriginalMessage()));
    }
    return origin + " is not valid YAML or JSON: " + firstLine(e.getMessage());
  }

  private static SpecValidationException translate(JsonProcessingException e) {
    String path = e instanceof JsonMappingException m ? path(m.getPath()) : "(document)";
    if (e instanceof UnrecognizedPropertyException u) {
      String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream().map(String::valueOf)
          .sorted().collect(Collectors.joining(", "));
      return invalid(path, null, "is not a known field" + (known.isEmpty() ? "" : " (known here: " + known + ")"));
    }
    if (e instanceof InvalidFormatException f && f.getTargetType() != null && f.getTargetType().isEnum()) {
      String allowed = Arrays.stream(f.getTargetType().getEnumConstants()).map(c -> enumWireName((Enum<?>) c))
          .collect(Collectors.joining(", "));
      return invalid(path, f.getValue(), "is not one of " + allowed);
    }
    if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
      return invalid(path, null, "must be " + describe(m.getTargetType()));
    }
    return invalid(path, null, firstLine(e.getOriginalMessage()));
  }

  private static String enumWireName(Enum<?> constant) {
    try {
      com.fasterxml.jackson.annotation.JsonProperty p = constant.getDeclaringClass().getField(constant.name())
          .getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class);
      return p != null ? p.value() : constant.name();
    } catch (NoSuchFieldException e) {
      return constant.name();
    }
  }

  private static String describe(Class<?> type) {
    if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
      return "an integer";
    }
    if (type == Double.class || type == double.class) {
      return "a number";
    }
    if (type == Boolean.class || type == boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a string";
    }
    if (List.class.isAssignableFrom(type)) {
      return "a list";
    }
    if (Map.class.isAssignableFrom(type)) {
      return "a mapping";
    }
    return "a mapping (" + type.getSimpleName() + ")";
  }

  private static String path(List<JsonMappingException.Reference> refs) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.length() == 0 ? "(document)" : sb.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static SpecValidationException invalid(String field, Object value, String rule) {
    return new SpecValidationException(List.of(new Violation(field, value, rule)));
  }

}
