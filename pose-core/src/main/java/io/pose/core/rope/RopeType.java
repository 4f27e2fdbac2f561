package io.pose.core.rope;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** The RoPE variants of Hugging Face transformers' ROPE_INIT_FUNCTIONS that this project computes. */
public enum RopeType {
  /** base^(-2i/d). */
  DEFAULT,
  /** Position interpolation: frequencies divided by the factor. */
  LINEAR,
  /** Dynamic NTK: the base grows with the sequence length beyond max_position_embeddings. */
  DYNAMIC,
  /** YaRN: a ramp between interpolated and original frequencies, plus an attention temperature. */
  YARN,
  /** Llama 3.1: wavelength-banded interpolation. */
  LLAMA3,
  /** Phi-3: per-dimension short/long rescale factors. */
  LONGROPE;

  /** The name in config.json ("rope_type" or the older "type"). */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The type a config.json value names, if it is one of these. */
  public static Optional<RopeType> fromWireName(String name) {
    return Arrays.stream(values()).filter(t -> t.wireName().equals(name)).findFirst();
  }
}
