package io.pose.api.progress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.pose.api.v1alpha1.Stage;
import java.util.Map;
import java.util.Optional;

/**
 * The progress protocol between stage pods and the operator: the ConfigMap {@code <name>-progress} holds
 * one JSON document per stage under the key {@code <stage command>.json} ({@code fetch.json},
 * {@code train.json}, {@code eval.json}, {@code publish.json}). The operator creates the ConfigMap; stage
 * pods only get and update (or patch) their own key; the operator copies the documents into status.
 * Readers ignore unknown fields, so a newer trainer can add fields without breaking an older operator.
 */
public final class ProgressProtocol {
  private ProgressProtocol() {}

  /** Version written into every document; readers accept this version and older ones. */
  public static final int SCHEMA_VERSION = 1;

  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .build();

  /** The progress ConfigMap's name for a ContextExtension. */
  public static String configMapName(String contextExtensionName) {
    return contextExtensionName + "-progress";
  }

  /** The ConfigMap data key a stage writes. */
  public static String key(Stage stage) {
    return stage.command() + ".json";
  }

  /** The document type each stage writes. */
  public static Class<?> reportType(Stage stage) {
    return switch (stage) {
      case FETCH -> FetchReport.class;
      case TRAIN -> TrainReport.class;
      case EVALUATE -> EvaluationResults.class;
      case PUBLISH -> PublishReport.class;
    };
  }

  /**
   * Reads one stage's document from the ConfigMap data.
   *
   * @throws MalformedProgressException when the key holds something that is not a document of this schema
   */
  public static <T> Optional<T> read(Map<String, String> data, Stage stage, Class<T> type) {
    if (!reportType(stage).equals(type)) {
      throw new IllegalArgumentException(stage + " writes " + reportType(stage).getSimpleName() + ", not " + type.getSimpleName());
    }
    if (data == null) {
      return Optional.empty();
    }
    String json = data.get(key(stage));
    if (json == null || json.isBlank()) {
      return Optional.empty();
    }
    try {
      T value = MAPPER.readValue(json, type);
      Integer version = (Integer) type.getMethod("getSchemaVersion").invoke(value);
      if (version != null && version > SCHEMA_VERSION) {
        throw new MalformedProgressException(key(stage) + ": schemaVersion " + version
            + " is newer than this reader's " + SCHEMA_VERSION + "; upgrade the operator");
      }
      return Optional.of(value);
    } catch (JsonProcessingException e) {
      throw new MalformedProgressException(key(stage) + ": not a valid " + type.getSimpleName() + " document: "
          + e.getOriginalMessage(), e);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Serializes a stage document for the ConfigMap, stamping the schema version. */
  public static String write(Object report) {
    try {
      if (report instanceof EvaluationResults e && e.getSchemaVersion() == null) {
        EvaluationResults copy = MAPPER.convertValue(e, EvaluationResults.class);
        copy.setSchemaVersion(SCHEMA_VERSION);
        return MAPPER.writeValueAsString(copy);
      }
      return MAPPER.writeValueAsString(report);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot serialize " + report.getClass().getSimpleName(), e);
    }
  }

  /** A progress document that cannot be read. */
  public static final class MalformedProgressException extends RuntimeException {
    public MalformedProgressException(String message) { super(message); }
    public MalformedProgressException(String message, Throwable cause) { super(message, cause); }
  }
}
