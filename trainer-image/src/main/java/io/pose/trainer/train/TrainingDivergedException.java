package io.pose.trainer.train;

/** The gradients became infinite or NaN in fp32 or bf16, where no loss scaling can explain it: the run diverged. */
public class TrainingDivergedException extends RuntimeException {
  public TrainingDivergedException(int step, double loss, double gradNorm) {
    super("training diverged at step " + step + ": loss " + loss + ", gradient norm " + gradNorm + (step == 1
        ? " before any update (the base model's weights hold NaN or infinite values, or overflow in this precision)"
        : " (lower spec.training.learningRate or raise warmupSteps; the checkpoints before this step are kept)"));
  }
}
