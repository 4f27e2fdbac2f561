package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.FusedOps;

/** One rank: every collective is the identity (a gather or scatter copies when its buffers differ). */
public final class SingleRank implements Collective {

  public static final SingleRank INSTANCE = new SingleRank();

  private SingleRank() {}

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int worldSize() {
    return 1;
  }

  @Override
  public void allReduceSum(NDArray tensor) {}

  @Override
  public double[] allReduce(double[] values, Op op) {
    return values.clone();
  }

  @Override
  public void broadcast(NDArray tensor, int root) {}

  @Override
  public Pending allGatherAsync(NDArray shard, NDArray full) {
    FusedOps.copy(full, shard);
    return DONE;
  }

  @Override
  public Pending reduceScatterAsync(NDArray full, NDArray shard) {
    FusedOps.copy(shard, full);
    return DONE;
  }

  @Override
  public void barrier() {}

  @Override
  public void abort(String reason) {}

  @Override
  public void close() {}
}
