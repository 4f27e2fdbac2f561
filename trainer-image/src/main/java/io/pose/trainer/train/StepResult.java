package io.pose.trainer.train;

/**
 * What one optimizer step did.
 *
 * @param step the step number, from 1
 * @param loss mean loss over the step's micro-batches
 * @param gradNorm global gradient norm before clipping
 * @param learningRate the rate used
 * @param tokens tokens processed (padding excluded)
 * @param seconds wall time of the step
 * @param maxPosition the largest position id seen in the step (PoSE: up to Lt - 1)
 * @param maxSampleLength the longest sample (what attention costs: Lc)
 */
public record StepResult(int step, double loss, double gradNorm, double learningRate, long tokens, double seconds,
    int maxPosition, int maxSampleLength) {}
