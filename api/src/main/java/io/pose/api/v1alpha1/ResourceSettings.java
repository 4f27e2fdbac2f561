package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.pose.api.validation.Rules;
import java.util.List;
import java.util.Map;

/** Compute and placement of the stage pods. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ResourceSettings {

  @Min(1)
  @Max(Rules.MAX_NODES)
  @JsonPropertyDescription("Training nodes (one pod per node). More than one needs a ReadWriteMany workspace. Default: " + Defaults.NODES + ".")
  private Integer nodes;

  @Min(0)
  @Max(64)
  @JsonPropertyDescription("GPUs per training pod (one trainer thread per GPU). Default: " + Defaults.GPUS_PER_NODE + ".")
  private Integer gpusPerNode;

  @Pattern(Rules.RESOURCE_NAME_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Extended resource name of a GPU. Default: " + Defaults.GPU_RESOURCE + ".")
  private String gpuResource;

  @Pattern(Rules.QUANTITY_PATTERN)
  @Size(max = 64)
  @JsonPropertyDescription("CPU request and limit of each training pod (a Kubernetes quantity).")
  private String cpu;

  @Pattern(Rules.QUANTITY_PATTERN)
  @Size(max = 64)
  @JsonPropertyDescription("Memory request and limit of each training pod (a Kubernetes quantity).")
  private String memory;

  @Pattern(Rules.QUANTITY_PATTERN)
  @Size(max = 64)
  @JsonPropertyDescription("Size limit of the memory-backed /dev/shm (counts against the pod's memory). Default: no limit.")
  private String sharedMemorySize;

  @JsonPropertyDescription("Node selector of all stage pods.")
  private Map<String, String> nodeSelector;

  @Size(max = 64)
  @JsonPropertyDescription("Tolerations of all stage pods.")
  private List<Toleration> tolerations;

  @JsonPropertyDescription("Affinity of all stage pods.")
  private Affinity affinity;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("PriorityClass of all stage pods.")
  private String priorityClassName;

  public Integer getNodes() { return nodes; }
  public void setNodes(Integer nodes) { this.nodes = nodes; }
  public Integer getGpusPerNode() { return gpusPerNode; }
  public void setGpusPerNode(Integer gpusPerNode) { this.gpusPerNode = gpusPerNode; }
  public String getGpuResource() { return gpuResource; }
  public void setGpuResource(String gpuResource) { this.gpuResource = gpuResource; }
  public String getCpu() { return cpu; }
  public void setCpu(String cpu) { this.cpu = cpu; }
  public String getMemory() { return memory; }
  public void setMemory(String memory) { this.memory = memory; }
  public String getSharedMemorySize() { return sharedMemorySize; }
  public void setSharedMemorySize(String sharedMemorySize) { this.sharedMemorySize = sharedMemorySize; }
  public Map<String, String> getNodeSelector() { return nodeSelector; }
  public void setNodeSelector(Map<String, String> nodeSelector) { this.nodeSelector = nodeSelector; }
  public List<Toleration> getTolerations() { return tolerations; }
  public void setTolerations(List<Toleration> tolerations) { this.tolerations = tolerations; }
  public Affinity getAffinity() { return affinity; }
  public void setAffinity(Affinity affinity) { this.affinity = affinity; }
  public String getPriorityClassName() { return priorityClassName; }
  public void setPriorityClassName(String priorityClassName) { this.priorityClassName = priorityClassName; }
}
