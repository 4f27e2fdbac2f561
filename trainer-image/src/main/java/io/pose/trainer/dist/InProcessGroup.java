package io.pose.trainer.dist;

import java.time.Duration;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Ranks as threads of one process, exchanging through shared memory: data parallelism and ZeRO on one machine's
 * CPU (or on one GPU shared by thread ranks, for testing), and the reference that the other backends are tested
 * against. Sums are taken in rank order, so every rank gets bit-identical results. A rank that fails calls
 * {@link #abort()} (or its member's {@link Collective#abort}): the others stop waiting with an exception instead of
 * hanging; a rank that does not arrive within the timeout does the same.
 */
public final class InProcessGroup {

  private final int size;
  /** Terminated for good when a rank fails: ranks waiting now, and ranks arriving later, fail at once. */
  private final Phaser barrier;
  private final Object[] slots;
  private final HostCollective.OpId[] ops;
  /** The barrier phase each rank last arrived at (to name the ranks a timeout waited for). */
  private final java.util.concurrent.atomic.AtomicIntegerArray arrivals;
  private final long timeoutNanos;
  private volatile String abortReason;

  public InProcessGroup(int size) {
    this(size, Duration.ofMinutes(30));
  }

  public InProcessGroup(int size, Duration timeout) {
    if (size < 1) {
      throw new IllegalArgumentException("a group needs at least one rank, not " + size);
    }
    this.size = size;
    this.barrier = new Phaser(size);
    this.slots = new Object[size];
    this.ops = new HostCollective.OpId[size];
    this.arrivals = new java.util.concurrent.atomic.AtomicIntegerArray(size);
    for (int r = 0; r < size; r++) {
      arrivals.set(r, -1);
    }
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
    abort("a rank failed");
  }

  private synchronized void abort(String reason) {
    if (abortReason == null) {
      abortReason = reason;
    }
    barrier.forceTermination();
  }

  private void await(int rank, HostCollective.OpId op) {
    try {
      arrivals.set(rank, barrier.getPhase());
      int phase = barrier.arrive();
      if (phase < 0 || barrier.awaitAdvanceInterruptibly(phase, timeoutNanos, TimeUnit.NANOSECONDS) < 0) {
        throw new CollectiveException("rank " + rank + ": another rank failed or aborted the group during " + op
            + (abortReason == null ? "" : " (" + abortReason + ")"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      abort("rank " + rank + " was interrupted");
      throw new CollectiveException("rank " + rank + ": interrupted while waiting for the other ranks in " + op, e);
    } catch (TimeoutException e) {
      String missing = missing(arrivals.get(rank));
      abort("rank " + rank + " timed out in " + op + " waiting for " + missing);
      throw new CollectiveException("rank " + rank + ": timed out: the other ranks did not arrive at " + op
          + " within " + Duration.ofNanos(timeoutNanos) + " (missing: " + missing + ")", e);
    }
  }

  /** The ranks that have not arrived at the given barrier phase. */
  private String missing(int phase) {
    StringBuilder b = new StringBuilder();
    for (int r = 0; r < size; r++) {
      if (arrivals.get(r) != phase) {
        b.append(b.length() == 0 ? "rank " : ", rank ").append(r);
      }
    }
    return b.length() == 0 ? "none" : b.toString();
  }

  private final class Member extends HostCollective {

    Member(int rank) {
      super(rank, InProcessGroup.this.size, "pose-collective-rank-" + rank);
    }

    /** Posts this rank's contribution, waits for everyone's, checks they all run the same operation. */
    private Object[] exchange(OpId op, Object contribution) {
      slots[rank] = contribution;
      ops[rank] = op;
      await(rank, op);
      for (int r = 0; r < size; r++) {
        if (!ops[r].equals(op)) {
          throw new CollectiveException("rank " + rank + " is at " + op + ", rank " + r + " at " + ops[r]
              + ": the ranks ran different steps");
        }
      }
      return slots;
    }

    /** Lets every rank read the slots before any rank overwrites its own. */
    private void done(OpId op) {
      await(rank, op);
      ops[rank] = null;
    }

    @Override
    protected float[] gather(OpId op, float[] shard) {
      Object[] all = exchange(op, shard);
      float[] full = new float[shard.length * size];
      for (int r = 0; r < size; r++) {
        System.arraycopy((float[]) all[r], 0, full, r * shard.length, shard.length);
      }
      done(op);
      return full;
    }

    @Override
    protected float[] reduceScatter(OpId op, float[] full) {
      Object[] all = exchange(op, full);
      int n = full.length / size;
      float[] shard = new float[n];
      int from = rank * n;
      for (int r = 0; r < size; r++) {
        float[] part = (float[]) all[r];
        for (int i = 0; i < n; i++) {
          shard[i] += part[from + i];
        }
      }
      done(op);
      return shard;
    }

    @Override
    protected double[][] gatherDoubles(OpId op, double[] values) {
      Object[] all = exchange(op, values);
      double[][] out = new double[size][];
      for (int r = 0; r < size; r++) {
        out[r] = ((double[]) all[r]).clone();
      }
      done(op);
      return out;
    }

    @Override
    protected float[] broadcast(OpId op, float[] values, int root) {
      Object[] all = exchange(op, values);
      float[] out = ((float[]) all[root]).clone();
      done(op);
      return out;
    }

    @Override
    protected void breakGroup(String reason) {
      InProcessGroup.this.abort(reason);
    }

    @Override
    protected void release() {}
  }
}
