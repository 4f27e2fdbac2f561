package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Storage shared by the stages. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StorageSettings {

  @JsonPropertyDescription("The workspace volume: base model, data, checkpoints, the extended model and evaluation results.")
  private WorkspaceVolume workspace;

  public WorkspaceVolume getWorkspace() { return workspace; }
  public void setWorkspace(WorkspaceVolume workspace) { this.workspace = workspace; }
}
