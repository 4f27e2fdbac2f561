package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;

/** A collective that passes every operation to another: tests override what they watch or slow down. */
public class ForwardingCollective implements Collective {
  protected final Collective inner;

  public ForwardingCollective(Collective inner) {
    this.inner = inner;
  }

  @Override
  public int rank() {
    return inner.rank();
  }

  @Override
  public int worldSize() {
    return inner.worldSize();
  }

  @Override
  public void allReduceSum(NDArray tensor) {
    inner.allReduceSum(tensor);
  }

  @Override
  public double[] allReduce(double[] values, Op op) {
    return inner.allReduce(values, op);
  }

  @Override
  public void broadcast(NDArray tensor, int root) {
    inner.broadcast(tensor, root);
  }

  @Override
  public Pending allGatherAsync(NDArray shard, NDArray full) {
    return inner.allGatherAsync(shard, full);
  }

  @Override
  public Pending reduceScatterAsync(NDArray full, NDArray shard) {
    return inner.reduceScatterAsync(full, shard);
  }

  @Override
  public void barrier() {
    inner.barrier();
  }

  @Override
  public void abort(String reason) {
    inner.abort(reason);
  }

  @Override
  public void close() {
    inner.close();
  }
}
