package io.pose.trainer.kernels;

/**
 * The precision of the matrix products (linear layers and attention), as torch.autocast applies it: the master
 * weights, embedding, RMSNorm, residual stream and loss stay fp32; weights and activations are cast to the
 * compute type at each product, and the casts are differentiable, so gradients reach the fp32 weights.
 */
public enum ComputeType {
  FP32(FusedOps.FLOAT32),
  BF16(FusedOps.BFLOAT16),
  /** Needs loss scaling: small gradients underflow in fp16 (see io.pose.trainer.train.LossScaler). */
  FP16(FusedOps.FLOAT16);

  private final int torchDtype;

  ComputeType(int torchDtype) {
    this.torchDtype = torchDtype;
  }

  /** Bytes of one element. */
  public int bytes() {
    return this == FP32 ? 4 : 2;
  }

  /** libtorch's scalar-type code. */
  public int torchDtype() {
    return torchDtype;
  }
}
