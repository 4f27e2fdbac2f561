package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** One stage's Job and outcome. Terminal states are kept even if the Job is later deleted. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"state", "jobName", "startTime", "completionTime", "failedPods", "message"})
public class StageStatus {
  private StageState state;
  private String jobName;
  private String startTime;
  private String completionTime;
  private Integer failedPods;
  private String message;

  public StageStatus() {}

  public StageStatus(StageState state) { this.state = state; }

  public StageState getState() { return state; }
  public void setState(StageState state) { this.state = state; }
  public String getJobName() { return jobName; }
  public void setJobName(String jobName) { this.jobName = jobName; }
  public String getStartTime() { return startTime; }
  public void setStartTime(String startTime) { this.startTime = startTime; }
  public String getCompletionTime() { return completionTime; }
  public void setCompletionTime(String completionTime) { this.completionTime = completionTime; }
  public Integer getFailedPods() { return failedPods; }
  public void setFailedPods(Integer failedPods) { this.failedPods = failedPods; }
  public String getMessage() { return message; }
  public void setMessage(String message) { this.message = message; }
}
