package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.NativeMemory;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The collectives that move data through host memory (ranks as threads sharing memory, ranks over TCP): tensors are
 * copied to fp32 host arrays, combined by host primitives that subclasses provide, and written back in place. Every
 * operation runs on one communication thread per rank, in issue order, so an asynchronous gather overlaps the
 * caller's compute and a later operation never overtakes an earlier one. Sums are taken in rank order: every rank
 * gets the same bits, whatever the timing.
 *
 * <p>The first failure breaks the rank's group for good: later operations fail at once with the same cause.
 */
abstract class HostCollective implements Collective {

  /** What an operation is, for messages and for checking that every rank runs the same one. */
  record OpId(String name, long sequence, long length) {
    @Override
    public String toString() {
      return name + " #" + sequence + " of " + length + " values";
    }

    /** A later phase of the same operation (an all-reduce is a reduce-scatter, then a gather). */
    OpId then(String phase) {
      return new OpId(name + "/" + phase, sequence, length);
    }
  }

  protected final int rank;
  protected final int size;
  private final ExecutorService comm;
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicReference<CollectiveException> broken = new AtomicReference<>();

  HostCollective(int rank, int size, String threadName) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " of a group of " + size);
    }
    this.rank = rank;
    this.size = size;
    this.comm = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
  }

  // ---- host primitives, called on the communication thread in issue order ----

  /** Every rank's shard, concatenated in rank order. */
  protected abstract float[] gather(OpId op, float[] shard);

  /** This rank's chunk of the rank-order sum of every rank's full array (length a multiple of the group size). */
  protected abstract float[] reduceScatter(OpId op, float[] full);

  /** Every rank's values, indexed by rank. */
  protected abstract double[][] gatherDoubles(OpId op, double[] values);

  /** Root's values on every rank (values is null on the others). */
  protected abstract float[] broadcast(OpId op, float[] values, int root);

  /** Makes the other ranks fail promptly: called once, on the first failure or abort. */
  protected abstract void breakGroup(String reason);

  /** Releases threads and connections. */
  protected abstract void release();

  // ---- the Collective interface ----

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int worldSize() {
    return size;
  }

  @Override
  public void allReduceSum(NDArray tensor) {
    run("allReduceSum", tensor.getShape().size(), op -> {
      float[] values = NativeMemory.floats(tensor);
      int chunk = (values.length + size - 1) / size;
      float[] padded = Arrays.copyOf(values, chunk * size);
      float[] sum = gather(op.then("gather"), reduceScatter(op, padded));
      NativeMemory.write(tensor, sum.length == values.length ? sum : Arrays.copyOf(sum, values.length));
      return null;
    }).await();
  }

  @Override
  public double[] allReduce(double[] values, Op reduction) {
    double[][] all = run("allReduce", values.length, op -> gatherDoubles(op, values.clone())).get();
    double[] out = all[0].clone();
    for (int r = 1; r < size; r++) {
      for (int i = 0; i < out.length; i++) {
        out[i] = reduction == Op.SUM ? out[i] + all[r][i] : Math.max(out[i], all[r][i]);
      }
    }
    return out;
  }

  @Override
  public void broadcast(NDArray tensor, int root) {
    run("broadcast", tensor.getShape().size(), op -> {
      float[] values = broadcast(op, rank == root ? NativeMemory.floats(tensor) : null, root);
      if (rank != root) {
        NativeMemory.write(tensor, values);
      }
      return null;
    }).await();
  }

  @Override
  public Pending allGatherAsync(NDArray shard, NDArray full) {
    long n = shard.getShape().size();
    Collective.requireShards("allGather", n, full.getShape().size(), size);
    return run("allGather", n, op -> {
      NativeMemory.write(full, gather(op, NativeMemory.floats(shard)));
      return null;
    });
  }

  @Override
  public Pending reduceScatterAsync(NDArray full, NDArray shard) {
    long n = shard.getShape().size();
    Collective.requireShards("reduceScatter", n, full.getShape().size(), size);
    return run("reduceScatter", full.getShape().size(), op -> {
      NativeMemory.write(shard, reduceScatter(op, NativeMemory.floats(full)));
      return null;
    });
  }

  @Override
  public void barrier() {
    run("barrier", 0, op -> gatherDoubles(op, new double[0])).await();
  }

  @Override
  public void abort(String reason) {
    fail(new CollectiveException("rank " + rank + " aborted the group: " + reason));
  }

  @Override
  public void close() {
    comm.shutdownNow();
    release();
  }

  /** The first failure wins; it breaks the group so that the other ranks fail too. */
  private CollectiveException fail(CollectiveException e) {
    if (broken.compareAndSet(null, e)) {
      breakGroup(e.getMessage());
    }
    return broken.get();
  }

  /** An operation in issue order on the communication thread. */
  private interface Body<T> {
    T run(OpId op);
  }

  /** The result of an operation run on the communication thread. */
  final class Result<T> implements Pending {
    private final Future<T> future;

    Result(Future<T> future) {
      this.future = future;
    }

    @Override
    public void await() {
      get();
    }

    T get() {
      try {
        return future.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw fail(new CollectiveException("rank " + rank + " was interrupted while waiting for a collective", e));
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof CollectiveException c) {
          throw c;
        }
        throw fail(new CollectiveException("rank " + rank + ": a collective failed: " + cause, cause));
      }
    }
  }

  private <T> Result<T> run(String name, long length, Body<T> body) {
    CollectiveException already = broken.get();
    if (already != null) {
      throw already;
    }
    OpId op = new OpId(name, sequence.incrementAndGet(), length);
    Callable<T> task = () -> {
      CollectiveException before = broken.get();
      if (before != null) {
        throw before;
      }
      try {
        return body.run(op);
      } catch (CollectiveException e) {
        throw fail(e);
      } catch (RuntimeException | Error e) {
        throw fail(new CollectiveException("rank " + rank + ": " + op + " failed: " + e, e));
      }
    };
    try {
      return new Result<>(comm.submit(task));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new CollectiveException("rank " + rank + ": the group is closed");
    }
  }
}
