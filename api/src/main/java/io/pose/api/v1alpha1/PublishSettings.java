package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;

/** Where the extended model goes, with an optional quality gate. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PublishSettings {

  @Required
  @Pattern(Rules.PUBLISH_URI_PATTERN)
  @Size(max = Rules.MAX_URI_LENGTH)
  @JsonPropertyDescription("hf://org/name | s3://bucket/prefix | oci://registry/repository:tag (KServe ModelCar) | pvc://claim/path | file:///path")
  private String target;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Secret with write credentials for the target; mounted into the Publish stage only.")
  private String credentialsSecret;

  @Min(0)
  @Max(1)
  @JsonPropertyDescription("Publish only if passkey accuracy at targetContextLength reaches this value (needs evaluation.passkey).")
  private Double requirePasskeyAccuracy;

  @JsonProperty("private")
  @JsonPropertyDescription("hf:// only: create the repository as private. Default: true.")
  private Boolean privateRepository;

  public String getTarget() { return target; }
  public void setTarget(String target) { this.target = target; }
  public String getCredentialsSecret() { return credentialsSecret; }
  public void setCredentialsSecret(String credentialsSecret) { this.credentialsSecret = credentialsSecret; }
  public Double getRequirePasskeyAccuracy() { return requirePasskeyAccuracy; }
  public void setRequirePasskeyAccuracy(Double requirePasskeyAccuracy) { this.requirePasskeyAccuracy = requirePasskeyAccuracy; }
  public Boolean getPrivateRepository() { return privateRepository; }
  public void setPrivateRepository(Boolean privateRepository) { this.privateRepository = privateRepository; }
}
