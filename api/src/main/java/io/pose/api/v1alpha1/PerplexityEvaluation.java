package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;
import java.util.List;

/** Sliding-window perplexity over long documents. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PerplexityEvaluation {

  /** How windows cover a document. */
  public enum Mode {
    /** Windows advance by stride; only newly covered tokens are scored. */
    @JsonProperty("slidingWindow") SLIDING_WINDOW,
    /** One window per document, from its start. */
    @JsonProperty("truncate") TRUNCATE
  }

  @Required
  @JsonPropertyDescription("Documents to score (for example Proof-pile or GovReport documents longer than the target).")
  private DataSource data;

  @Size(min = 1, max = Rules.MAX_EVAL_LENGTHS)
  @JsonPropertyDescription("Window lengths in tokens, each at most targetContextLength. Default: the original length, doubling up to the target.")
  private List<Integer> lengths;

  @Min(1)
  @JsonPropertyDescription("Stride S between windows. Default: " + Defaults.PERPLEXITY_STRIDE + ".")
  private Integer stride;

  @JsonPropertyDescription("slidingWindow | truncate. Default: slidingWindow.")
  private Mode mode;

  @Min(1)
  @JsonPropertyDescription("Documents scored. Default: " + Defaults.PERPLEXITY_MAX_DOCUMENTS + ".")
  private Integer maxDocuments;

  public DataSource getData() { return data; }
  public void setData(DataSource data) { this.data = data; }
  public List<Integer> getLengths() { return lengths; }
  public void setLengths(List<Integer> lengths) { this.lengths = lengths; }
  public Integer getStride() { return stride; }
  public void setStride(Integer stride) { this.stride = stride; }
  public Mode getMode() { return mode; }
  public void setMode(Mode mode) { this.mode = mode; }
  public Integer getMaxDocuments() { return maxDocuments; }
  public void setMaxDocuments(Integer maxDocuments) { this.maxDocuments = maxDocuments; }
}
