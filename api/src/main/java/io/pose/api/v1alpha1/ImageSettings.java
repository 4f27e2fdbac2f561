package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** The trainer image run by every stage. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ImageSettings {

  /** Kubernetes image pull policy. */
  public enum PullPolicy { Always, IfNotPresent, Never }

  @Size(min = 1, max = 512)
  @JsonPropertyDescription("Image reference. Default: the operator's configured pose-trainer image.")
  private String name;

  @JsonPropertyDescription("Always | IfNotPresent | Never. Default: Kubernetes' default for the tag.")
  private PullPolicy pullPolicy;

  @Size(max = 16)
  @JsonPropertyDescription("Names of image pull secrets.")
  private List<String> pullSecrets;

  public String getName() { return name; }
  public void setName(String name) { this.name = name; }
  public PullPolicy getPullPolicy() { return pullPolicy; }
  public void setPullPolicy(PullPolicy pullPolicy) { this.pullPolicy = pullPolicy; }
  public List<String> getPullSecrets() { return pullSecrets; }
  public void setPullSecrets(List<String> pullSecrets) { this.pullSecrets = pullSecrets; }
}
