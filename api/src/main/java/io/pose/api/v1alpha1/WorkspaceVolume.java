package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;
import java.util.List;

/** A PersistentVolumeClaim the operator creates (and deletes with the resource), or an existing one. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = Rules.EXISTING_CLAIM_EXCLUSIVE_CEL, message = Rules.EXISTING_CLAIM_EXCLUSIVE_MESSAGE, fieldPath = ".existingClaim", reason = "FieldValueInvalid")
public class WorkspaceVolume {

  /** PersistentVolumeClaim access modes the workspace may ask for. */
  public enum AccessMode {
    ReadWriteOnce, ReadWriteMany, ReadWriteOncePod
  }

  @Pattern(Rules.QUANTITY_PATTERN)
  @Size(max = 64)
  @JsonPropertyDescription("Size of the claim the operator creates. Default: " + Defaults.WORKSPACE_SIZE + ".")
  private String size;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("StorageClass of the claim. Default: the cluster's default class.")
  private String storageClassName;

  @Size(min = 1, max = 3)
  @JsonPropertyDescription("Access modes of the claim. Default: ReadWriteOnce for one node, ReadWriteMany for several.")
  private List<AccessMode> accessModes;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Use this existing claim instead (kept when the resource is deleted). Several nodes need it to be ReadWriteMany.")
  private String existingClaim;

  public String getSize() { return size; }
  public void setSize(String size) { this.size = size; }
  public String getStorageClassName() { return storageClassName; }
  public void setStorageClassName(String storageClassName) { this.storageClassName = storageClassName; }
  public List<AccessMode> getAccessModes() { return accessModes; }
  public void setAccessModes(List<AccessMode> accessModes) { this.accessModes = accessModes; }
  public String getExistingClaim() { return existingClaim; }
  public void setExistingClaim(String existingClaim) { this.existingClaim = existingClaim; }
}
