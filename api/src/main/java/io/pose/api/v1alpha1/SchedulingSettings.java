package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.pose.api.validation.Rules;

/** Gang scheduling: a Kueue LocalQueue or a Volcano queue (not both). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = Rules.ONE_SCHEDULER_CEL, message = Rules.ONE_SCHEDULER_MESSAGE, reason = "FieldValueInvalid")
public class SchedulingSettings {

  @Pattern(Rules.DNS_LABEL_PATTERN)
  @Size(max = 63)
  @JsonPropertyDescription("Kueue LocalQueue: stage Jobs are created suspended with the kueue.x-k8s.io/queue-name label and start when admitted.")
  private String queueName;

  @JsonPropertyDescription("Volcano: schedulerName volcano and a PodGroup with minMember = nodes for training.")
  private VolcanoSettings volcano;

  public String getQueueName() { return queueName; }
  public void setQueueName(String queueName) { this.queueName = queueName; }
  public VolcanoSettings getVolcano() { return volcano; }
  public void setVolcano(VolcanoSettings volcano) { this.volcano = volcano; }
}
