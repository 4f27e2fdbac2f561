package io.pose.operator.model.volcano;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/** The part of Volcano's PodGroup status the operator reads. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class PodGroupStatus {
  private String phase;

  public String getPhase() { return phase; }
  public void setPhase(String phase) { this.phase = phase; }
}
