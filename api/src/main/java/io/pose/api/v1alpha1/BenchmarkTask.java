package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;

/** A multiple-choice benchmark scored by log-likelihood (lm-evaluation-harness style). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class BenchmarkTask {

  @Required
  @Pattern(Rules.TASK_NAME_PATTERN)
  @Size(max = 63)
  @JsonPropertyDescription("Task name; hellaswag, arc_challenge, arc_easy, piqa, boolq and winogrande select their field layout, any other name the generic layout (context, choices, gold).")
  private String name;

  @Required
  @JsonPropertyDescription("The task's examples (JSONL).")
  private DataSource data;

  @Min(0)
  @Max(64)
  @JsonPropertyDescription("Few-shot examples per prompt. Default: 0.")
  private Integer shots;

  public String getName() { return name; }
  public void setName(String name) { this.name = name; }
  public DataSource getData() { return data; }
  public void setData(DataSource data) { this.data = data; }
  public Integer getShots() { return shots; }
  public void setShots(Integer shots) { this.shots = shots; }
}
