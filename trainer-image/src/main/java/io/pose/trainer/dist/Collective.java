package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;

/**
 * Collective operations among the ranks of a run: what the training loop and the ZeRO layer call to share work, so
 * that the model code stays single-device. Implementations: {@link SingleRank} (one device), {@link InProcessGroup}
 * (ranks as threads of one process), {@link SocketGroup} (ranks in separate processes or on separate nodes, over
 * TCP, on CPU) and {@link NcclGroup} (GPUs, within a node and across nodes).
 *
 * <p>Every rank calls the same operations in the same order; results are identical on every rank. Tensors are fp32
 * and contiguous. Sums are deterministic: the same inputs give the same bits, run after run. An operation that
 * cannot complete (a peer died, did not arrive within the timeout, or called another operation) throws
 * {@link CollectiveException} naming the rank, on every rank, within the group's timeout: nothing hangs.
 *
 * <p>Operations run in the order they are issued, asynchronous ones included: an operation issued after an
 * asynchronous one starts after it.
 */
public interface Collective extends AutoCloseable {

  /** Reductions of host values. */
  enum Op { SUM, MAX }

  /** An operation in flight: {@link #await} makes its result visible to what the caller does next. */
  interface Pending {
    /** Waits for the operation (on a GPU: orders the compute stream after it). */
    void await();
  }

  /** A pending operation that has already completed. */
  Pending DONE = () -> { };

  /** Checks that a full tensor of {@code full} values holds {@code ranks} shards of {@code shard} values. */
  static void requireShards(String operation, long shard, long full, int ranks) {
    if (full != shard * ranks) {
      throw new IllegalArgumentException(operation + ": a full tensor of " + full + " values does not hold " + ranks
          + " shards of " + shard);
    }
  }

  int rank();

  int worldSize();

  /** Sums a tensor over all ranks, in place: afterwards every rank holds the sum. */
  void allReduceSum(NDArray tensor);

  /** Reduces host values element-wise over all ranks (loss sums, token counts, maxima, flags). */
  double[] allReduce(double[] values, Op op);

  /** Copies root's tensor into every rank's, in place. */
  void broadcast(NDArray tensor, int root);

  /**
   * Concatenates every rank's shard [n] into full [worldSize x n], in rank order. The shard may be the slice of full
   * at rank x n (in place).
   */
  default void allGather(NDArray shard, NDArray full) {
    allGatherAsync(shard, full).await();
  }

  /** Starts {@link #allGather}; shard and full must stay alive and unchanged until the result is awaited. */
  Pending allGatherAsync(NDArray shard, NDArray full);

  /**
   * Sums full [worldSize x n] over all ranks and leaves each rank its slice: shard [n] = sum over ranks r of
   * full_r[rank x n, (rank + 1) x n).
   */
  default void reduceScatter(NDArray full, NDArray shard) {
    reduceScatterAsync(full, shard).await();
  }

  /** Starts {@link #reduceScatter}; full and shard must stay alive and unchanged until the result is awaited. */
  Pending reduceScatterAsync(NDArray full, NDArray shard);

  /** Waits until every rank has arrived. */
  void barrier();

  /**
   * Breaks the group after this rank failed: the other ranks' collectives fail promptly (naming this rank and the
   * reason) instead of waiting for the timeout. Idempotent.
   */
  void abort(String reason);

  /** Leaves the group (threads, sockets, communicators). */
  @Override
  void close();
}
