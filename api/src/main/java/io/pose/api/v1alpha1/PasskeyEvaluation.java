package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;
import java.util.List;

/** Passkey retrieval: a random number hidden in filler text, retrieved by greedy decoding. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PasskeyEvaluation {

  @Size(min = 1, max = Rules.MAX_EVAL_LENGTHS)
  @JsonPropertyDescription("Prompt lengths in tokens, each at most targetContextLength. Default: the original length, doubling up to the target.")
  private List<Integer> lengths;

  @Min(1)
  @Max(10_000)
  @JsonPropertyDescription("Trials per length. Default: " + Defaults.PASSKEY_TRIALS + ".")
  private Integer trials;

  @JsonPropertyDescription("Seed of the keys and their positions. Default: " + Defaults.PASSKEY_SEED + ".")
  private Long seed;

  public List<Integer> getLengths() { return lengths; }
  public void setLengths(List<Integer> lengths) { this.lengths = lengths; }
  public Integer getTrials() { return trials; }
  public void setTrials(Integer trials) { this.trials = trials; }
  public Long getSeed() { return seed; }
  public void setSeed(Long seed) { this.seed = seed; }
}
