package io.pose.core.hf;

/** How a config.json states its RoPE: the two layouts transformers reads. */
public enum ConfigStyle {
  /** transformers v4: top-level rope_theta and an optional rope_scaling object ("rope_type" or older "type"). */
  ROPE_SCALING,
  /** transformers v5: a rope_parameters object that also holds rope_theta. */
  ROPE_PARAMETERS
}
