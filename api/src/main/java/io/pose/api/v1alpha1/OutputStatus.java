package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** Where the extended model is. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class OutputStatus {
  /** The extended model in the workspace (pvc://claim/path). */
  private String modelUri;
  /** The published model, once the Publish stage succeeded. */
  private String publishedUri;
  private String revision;

  public String getModelUri() { return modelUri; }
  public void setModelUri(String modelUri) { this.modelUri = modelUri; }
  public String getPublishedUri() { return publishedUri; }
  public void setPublishedUri(String publishedUri) { this.publishedUri = publishedUri; }
  public String getRevision() { return revision; }
  public void setRevision(String revision) { this.revision = revision; }
}
