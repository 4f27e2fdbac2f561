package io.pose.trainer.train;

/**
 * Dynamic loss scaling for fp16, with torch.amp.GradScaler's rule: the loss is multiplied by the scale before the
 * backward pass so that small gradients do not underflow in fp16; the gradients are divided by it before clipping;
 * a step whose gradients overflowed (inf or NaN) is skipped and the scale halved; after a run of good steps the
 * scale doubles. The scale is always a power of two, so scaling and unscaling are exact.
 */
public final class LossScaler {

  public static final double INITIAL_SCALE = 65536.0;
  public static final int GROWTH_INTERVAL = 2000;

  private final int growthInterval;
  private double scale;
  private int goodSteps;

  public LossScaler() {
    this(INITIAL_SCALE, GROWTH_INTERVAL);
  }

  public LossScaler(double initialScale, int growthInterval) {
    if (initialScale <= 0 || Math.getExponent(initialScale) != Math.log(initialScale) / Math.log(2)) {
      throw new IllegalArgumentException("the loss scale must be a power of two, not " + initialScale);
    }
    this.scale = initialScale;
    this.growthInterval = growthInterval;
  }

  public double scale() {
    return scale;
  }

  /** Good steps since the last change of scale (GradScaler's growth tracker). */
  public int goodSteps() {
    return goodSteps;
  }

  /** After a step: halve on overflow (the step is skipped), double after growthInterval good steps. */
  public void update(boolean finite) {
    if (!finite) {
      scale *= 0.5;
      goodSteps = 0;
      return;
    }
    goodSteps++;
    if (goodSteps == growthInterval) {
      scale *= 2.0;
      goodSteps = 0;
    }
  }

  /** Restores the state of a checkpoint. */
  public void restore(double scale, int goodSteps) {
    this.scale = scale;
    this.goodSteps = goodSteps;
  }
}
