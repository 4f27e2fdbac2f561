package io.pose.trainer.io;

import java.util.Arrays;
import java.util.Optional;

/** Element types of the safetensors format, with their names in the file header and their sizes in bytes. */
public enum DType {
  F64(8, 17), F32(4, 15), F16(2, 11), BF16(2, 12), I64(8, 18), I32(4, 13), I16(2, 9), I8(1, 5), U8(1, 4), BOOL(1, 0);

  private final int bytes;
  private final int layoutRank;

  DType(int bytes, int layoutRank) {
    this.bytes = bytes;
    this.layoutRank = layoutRank;
  }

  /**
   * The position of the type in the safetensors library's Dtype enum: files lay tensors out by descending rank,
   * then by name, which keeps every tensor aligned to its element size.
   */
  int layoutRank() {
    return layoutRank;
  }

  public int bytes() {
    return bytes;
  }

  /** True for the types read as floating point (F64, F32, F16, BF16). */
  public boolean floating() {
    return this == F64 || this == F32 || this == F16 || this == BF16;
  }

  /** The type a header names, if it is one of these. */
  public static Optional<DType> fromHeader(String name) {
    return Arrays.stream(values()).filter(t -> t.name().equals(name)).findFirst();
  }
}
