package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.ArrayList;
import java.util.List;

/** The last retry asked for with the pose.io/retry annotation, and how it was honoured. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RetryStatus {
  /** The annotation's value last acted on: a retry happens once per new value. */
  private String observed;
  /** The stage the retry started again from (Fetch, Train, Evaluate or Publish); absent when it was not honoured. */
  private String from;
  /** When it was acted on. */
  private String time;
  /** How many retries were honoured. */
  private Integer count;
  /** UIDs of the Jobs the retry replaced, while they are still being deleted (they are ignored). */
  private List<String> replacedJobs = new ArrayList<>();

  public String getObserved() { return observed; }
  public void setObserved(String observed) { this.observed = observed; }
  public String getFrom() { return from; }
  public void setFrom(String from) { this.from = from; }
  public String getTime() { return time; }
  public void setTime(String time) { this.time = time; }
  public Integer getCount() { return count; }
  public void setCount(Integer count) { this.count = count; }
  public List<String> getReplacedJobs() { return replacedJobs; }
  public void setReplacedJobs(List<String> replacedJobs) { this.replacedJobs = replacedJobs; }
}
