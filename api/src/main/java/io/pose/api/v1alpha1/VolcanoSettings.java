package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;

/** Volcano gang scheduling. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class VolcanoSettings {

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Volcano queue. Default: Volcano's default queue.")
  private String queue;

  public String getQueue() { return queue; }
  public void setQueue(String queue) { this.queue = queue; }
}
