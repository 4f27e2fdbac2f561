package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;
import io.pose.trainer.kernels.NativeMemory;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Ranks as threads of one process, exchanging through shared memory: the CPU counterpart of NCCL, for data
 * parallelism on one machine and for testing everything that runs behind {@link Collective}. Sums are taken in
 * rank order, so every rank gets bit-identical results. A rank that fails calls {@link #abort()}: the others stop
 * waiting with an exception instead of hanging; a rank that does not arrive within the timeout does the same.
 */
public final class InProcessGroup {

  private final int size;
  private final CyclicBarrier barrier;
  private final Object[] slots;
  private final long timeoutNanos;

  public InProcessGroup(int size) {
    this(size, Duration.ofMinutes(30));
  }

  public InProcessGroup(int size, Duration timeout) {
    if (size < 1) {
      throw new IllegalArgumentException("a group needs at least one rank, not " + size);
    }
    this.size = size;
    this.barrier = new CyclicBarrier(size);
    this.slots = new Object[size];
    this.timeoutNanos = timeout.toNanos();
  }

  /** The collective of one rank (each rank's thread uses its own). */
  public Collective member(int rank) {
    if (rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " is outside [0, " + size + ")");
    }
    return new Member(rank);
  }

  /** Breaks the group: every rank waiting in, or later entering, a collective fails. */
  public void abort() {
    barrier.reset();
  }

  private void await() {
    try {
      barrier.await(timeoutNanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      barrier.reset();
      throw new CollectiveException("interrupted while waiting for the other ranks", e);
    } catch (BrokenBarrierException e) {
      throw new CollectiveException("another rank failed or aborted the group", e);
    } catch (TimeoutException e) {
      barrier.reset();
      throw new CollectiveException("the other ranks did not arrive within " + Duration.ofNanos(timeoutNanos), e);
    }
  }

  private final class Member implements Collective {
    private final int rank;

    Member(int rank) {
      this.rank = rank;
    }

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
      slots[rank] = tensor.toFloatArray();
      await();
      float[] sum = new float[((float[]) slots[0]).length];
      for (int r = 0; r < size; r++) {
        float[] part = (float[]) slots[r];
        if (part.length != sum.length) {
          abort();
          throw new CollectiveException("rank " + r + " reduces " + part.length + " values, rank 0 " + sum.length);
        }
        for (int i = 0; i < sum.length; i++) {
          sum[i] += part[i];
        }
      }
      await(); // nobody overwrites a slot before every rank has read them all
      write(tensor, sum);
    }

    @Override
    public double[] allReduce(double[] values, Op op) {
      slots[rank] = values.clone();
      await();
      double[] out = ((double[]) slots[0]).clone();
      for (int r = 1; r < size; r++) {
        double[] part = (double[]) slots[r];
        for (int i = 0; i < out.length; i++) {
          out[i] = op == Op.SUM ? out[i] + part[i] : Math.max(out[i], part[i]);
        }
      }
      await();
      return out;
    }

    @Override
    public void broadcast(NDArray tensor, int root) {
      if (rank == root) {
        slots[0] = tensor.toFloatArray();
      }
      await();
      float[] values = (float[]) slots[0];
      if (rank != root) {
        write(tensor, values);
      }
      await();
    }

    @Override
    public void barrier() {
      await();
    }

    private void write(NDArray tensor, float[] values) {
      FloatBuffer target = NativeMemory.alias(tensor).asFloatBuffer();
      target.put(values);
    }
  }

  /** A collective that could not complete. */
  public static final class CollectiveException extends RuntimeException {
    public CollectiveException(String message) {
      super(message);
    }

    public CollectiveException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
