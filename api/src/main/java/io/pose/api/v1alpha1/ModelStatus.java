package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What the Fetch stage learned about the base model. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelStatus {
  private Integer originalContextLength;
  private String revision;
  private String architecture;
  private String uri;

  public Integer getOriginalContextLength() { return originalContextLength; }
  public void setOriginalContextLength(Integer originalContextLength) { this.originalContextLength = originalContextLength; }
  public String getRevision() { return revision; }
  public void setRevision(String revision) { this.revision = revision; }
  public String getArchitecture() { return architecture; }
  public void setArchitecture(String architecture) { this.architecture = architecture; }
  public String getUri() { return uri; }
  public void setUri(String uri) { this.uri = uri; }
}
