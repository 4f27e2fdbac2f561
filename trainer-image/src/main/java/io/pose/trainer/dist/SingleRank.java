package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;

/** One rank: every collective is the identity. */
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
  public void barrier() {}
}
