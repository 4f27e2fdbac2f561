package io.pose.api.progress;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What the Publish stage reports once the model is at its target. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PublishReport {
  private Integer schemaVersion = ProgressProtocol.SCHEMA_VERSION;
  private String publishedUri;
  /** The target's revision of what was published (Hub commit sha, OCI digest, S3 manifest ETag). */
  private String revision;
  private String updatedAt;

  public Integer getSchemaVersion() { return schemaVersion; }
  public void setSchemaVersion(Integer schemaVersion) { this.schemaVersion = schemaVersion; }
  public String getPublishedUri() { return publishedUri; }
  public void setPublishedUri(String publishedUri) { this.publishedUri = publishedUri; }
  public String getRevision() { return revision; }
  public void setRevision(String revision) { this.revision = revision; }
  public String getUpdatedAt() { return updatedAt; }
  public void setUpdatedAt(String updatedAt) { this.updatedAt = updatedAt; }
}
