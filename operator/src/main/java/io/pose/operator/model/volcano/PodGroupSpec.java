package io.pose.operator.model.volcano;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/** The fields of Volcano's PodGroup spec the operator sets. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class PodGroupSpec {
  private Integer minMember;
  private String queue;
  private String priorityClassName;

  public Integer getMinMember() { return minMember; }
  public void setMinMember(Integer minMember) { this.minMember = minMember; }
  public String getQueue() { return queue; }
  public void setQueue(String queue) { this.queue = queue; }
  public String getPriorityClassName() { return priorityClassName; }
  public void setPriorityClassName(String priorityClassName) { this.priorityClassName = priorityClassName; }
}
