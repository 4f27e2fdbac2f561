package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** Per-stage status, one field per {@link Stage}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"fetch", "train", "evaluate", "publish"})
public class StagesStatus {
  private StageStatus fetch;
  private StageStatus train;
  private StageStatus evaluate;
  private StageStatus publish;

  public StageStatus getFetch() { return fetch; }
  public void setFetch(StageStatus fetch) { this.fetch = fetch; }
  public StageStatus getTrain() { return train; }
  public void setTrain(StageStatus train) { this.train = train; }
  public StageStatus getEvaluate() { return evaluate; }
  public void setEvaluate(StageStatus evaluate) { this.evaluate = evaluate; }
  public StageStatus getPublish() { return publish; }
  public void setPublish(StageStatus publish) { this.publish = publish; }

  @JsonIgnore
  public StageStatus get(Stage stage) {
    return switch (stage) {
      case FETCH -> fetch;
      case TRAIN -> train;
      case EVALUATE -> evaluate;
      case PUBLISH -> publish;
    };
  }

  public void set(Stage stage, StageStatus status) {
    switch (stage) {
      case FETCH -> fetch = status;
      case TRAIN -> train = status;
      case EVALUATE -> evaluate = status;
      case PUBLISH -> publish = status;
    }
  }

  /** The stage's state, {@link StageState#Pending} when not recorded yet. */
  @JsonIgnore
  public StageState stateOf(Stage stage) {
    StageStatus s = get(stage);
    return s == null || s.getState() == null ? StageState.Pending : s.getState();
  }
}
