package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;

/** The base model: where it comes from and the context length it was trained at. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelSource {

  @Required
  @Pattern(Rules.MODEL_URI_PATTERN)
  @Size(max = Rules.MAX_URI_LENGTH)
  @JsonPropertyDescription("hf://org/name[@revision] | s3://bucket/prefix | pvc://claim/path | file:///path")
  private String source;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Secret holding credentials for the source (key 'token' for hf://; 'accessKeyId' and 'secretAccessKey' for s3://). Mounted into the Fetch stage only.")
  private String credentialsSecret;

  @Min(Rules.MIN_CONTEXT_LENGTH)
  @Max(Rules.MAX_CONTEXT_LENGTH)
  @JsonPropertyDescription("The context length the base model was trained at (Lo). Default: from the model's config.json "
      + "(rope_scaling.original_max_position_embeddings, else max_position_embeddings). Set it for models whose config "
      + "overstates it, such as Mistral-7B-v0.1 (config 32768, trained at 8192).")
  private Integer originalContextLength;

  public String getSource() { return source; }
  public void setSource(String source) { this.source = source; }
  public String getCredentialsSecret() { return credentialsSecret; }
  public void setCredentialsSecret(String credentialsSecret) { this.credentialsSecret = credentialsSecret; }
  public Integer getOriginalContextLength() { return originalContextLength; }
  public void setOriginalContextLength(Integer originalContextLength) { this.originalContextLength = originalContextLength; }
}
