package io.pose.api.progress;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What the Fetch stage reports: where the base model landed and what it learned from its config.json. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class FetchReport {
  private Integer schemaVersion = ProgressProtocol.SCHEMA_VERSION;
  /** The base model's original context length (from config.json or spec.model.originalContextLength). */
  private Integer originalContextLength;
  /** The resolved revision of the source (a Hub commit sha, an S3 ETag digest, ...). */
  private String modelRevision;
  /** Where the base model is in the workspace (pvc://claim/path). */
  private String modelUri;
  /** The model's architecture as named in config.json (MistralForCausalLM, ...). */
  private String architecture;
  private String updatedAt;

  public Integer getSchemaVersion() { return schemaVersion; }
  public void setSchemaVersion(Integer schemaVersion) { this.schemaVersion = schemaVersion; }
  public Integer getOriginalContextLength() { return originalContextLength; }
  public void setOriginalContextLength(Integer originalContextLength) { this.originalContextLength = originalContextLength; }
  public String getModelRevision() { return modelRevision; }
  public void setModelRevision(String modelRevision) { this.modelRevision = modelRevision; }
  public String getModelUri() { return modelUri; }
  public void setModelUri(String modelUri) { this.modelUri = modelUri; }
  public String getArchitecture() { return architecture; }
  public void setArchitecture(String architecture) { this.architecture = architecture; }
  public String getUpdatedAt() { return updatedAt; }
  public void setUpdatedAt(String updatedAt) { this.updatedAt = updatedAt; }
}
