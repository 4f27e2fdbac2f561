package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;

/**
 * Collective operations among the ranks of a run: what the training loop calls to share work, so that the model
 * code stays single-device. Implementations: {@link SingleRank} (one device), {@link InProcessGroup} (ranks as
 * threads of one process, for CPU runs and tests), and NCCL across GPUs and nodes (the distributed-training
 * issue). Every rank calls the same operations in the same order; results are identical on every rank.
 */
public interface Collective {

  /** Reductions of host values. */
  enum Op { SUM, MAX }

  int rank();

  int worldSize();

  /** Sums a tensor over all ranks, in place: afterwards every rank holds the sum. */
  void allReduceSum(NDArray tensor);

  /** Reduces host values element-wise over all ranks (loss sums, token counts, maxima, flags). */
  double[] allReduce(double[] values, Op op);

  /** Copies root's tensor into every rank's, in place. */
  void broadcast(NDArray tensor, int root);

  /** Waits until every rank has arrived. */
  void barrier();
}
