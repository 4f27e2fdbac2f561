package io.pose.trainer.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.pose.trainer.kernels.NativeMemory;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.Pointer;

/**
 * GPU ranks over NCCL (through JavaCPP), within a node (NVLink, PCIe) and across nodes (InfiniBand, RoCE, TCP): one
 * communicator per GPU, one rank per trainer thread. Rank 0 makes the NCCL unique id and shares its 128 bytes
 * through the control plane (a {@link SocketGroup} member, which also carries the host-value reductions and
 * barriers).
 *
 * <p>Every collective runs on one communication stream of this rank's device: it waits (on the device) for what the
 * null stream, where DJL's kernels run, has enqueued, and the null stream waits for it when the result is awaited.
 * A gather started early (the next layer's weights) therefore overlaps the current layer's compute.
 *
 * <p>A watchdog thread turns hangs into failures: an operation not done within the timeout, or an error NCCL
 * reports asynchronously (a peer died, the network failed), aborts the communicator, so that the kernels waiting
 * on it end and the next collective throws. If the rank's thread is stuck anyway, the watchdog ends the process
 * with exit code 1 after a grace period, so that the Job's failure policy restarts it from the last checkpoint.
 */
public final class NcclGroup implements Collective {

  private static final Duration GRACE = Duration.ofMinutes(2);

  private final int rank;
  private final int size;
  private final int device;
  private final Collective control;
  private final ncclComm comm;
  private final CUstream_st stream;
  private final Duration timeout;
  private final ConcurrentLinkedDeque<InFlight> inFlight = new ConcurrentLinkedDeque<>();
  private final AtomicReference<String> broken = new AtomicReference<>();
  private final Thread watchdog;
  private volatile boolean closed;
  /** Whether the communicator was aborted or destroyed (guarded by this). */
  private boolean released;

  /**
   * An operation enqueued on the communication stream, done when its event is. The watchdog owns this event (it
   * destroys it once done); the caller's {@link Pending} has an event of its own.
   */
  private record InFlight(CUevent_st done, long started, String what) {}

  private NcclGroup(int rank, int size, int device, Collective control, ncclComm comm, CUstream_st stream,
      Duration timeout) {
    this.rank = rank;
    this.size = size;
    this.device = device;
    this.control = control;
    this.comm = comm;
    this.stream = stream;
    this.timeout = timeout;
    this.watchdog = new Thread(this::watch, "pose-nccl-watchdog-rank-" + rank);
    this.watchdog.setDaemon(true);
    this.watchdog.start();
  }

  /**
   * Joins the NCCL group as {@code rank} of {@code size} on GPU {@code device} (the calling thread's device from now
   * on). Every rank calls it at the same time, from its own thread.
   *
   * @param control the same rank's control-plane member (host values, barriers, the unique id)
   */
  public static NcclGroup join(int rank, int size, int device, Collective control, Duration timeout) {
    Cuda.setDevice(device);
    double[] id = new double[128];
    try {
      if (rank == 0) {
        ncclUniqueId unique = new ncclUniqueId();
        check(nccl.ncclGetUniqueId(unique), "ncclGetUniqueId", null);
        for (int i = 0; i < 128; i++) {
          id[i] = unique.internal(i) & 0xff;
        }
      }
    } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
      control.abort("NCCL could not be loaded");
      throw new Cuda.CudaUnavailableException("NCCL could not be loaded (" + Cuda.rootMessage(e) + "): GPU runs need "
          + "libnccl.so.2 from the image and libcuda.so.1 from the NVIDIA container runtime", e);
    }
    // the id's bytes, as the sum of rank 0's values and everyone else's zeros
    double[] shared = control.allReduce(id, Op.SUM);
    ncclUniqueId unique = new ncclUniqueId();
    for (int i = 0; i < 128; i++) {
      unique.internal(i, (byte) (int) shared[i]);
    }
    ncclComm comm = new ncclComm();
    // ncclCommInitRank blocks until every rank has called it: a rank that dies now would leave the others there for
    // good, and nothing can abort a communicator that does not exist yet; past the timeout the process ends (exit 1)
    java.util.concurrent.atomic.AtomicBoolean initialised = new java.util.concurrent.atomic.AtomicBoolean();
    Thread guard = new Thread(() -> {
      try {
        Thread.sleep(timeout.toMillis());
      } catch (InterruptedException e) {
        return;
      }
      if (!initialised.get()) {
        System.err.println("rank " + rank + " (GPU " + device + "): NCCL's initialisation did not complete within "
            + timeout + " (a rank died or cannot reach the others): exiting");
        System.err.flush();
        Runtime.getRuntime().halt(1);
      }
    }, "pose-nccl-init-guard-rank-" + rank);
    guard.setDaemon(true);
    guard.start();
    try {
      check(nccl.ncclCommInitRank(comm, size, unique, rank), "ncclCommInitRank(rank " + rank + " of " + size
          + ", GPU " + device + ")", null);
    } finally {
      initialised.set(true);
      guard.interrupt();
    }
    return new NcclGroup(rank, size, device, control, comm, Cuda.newStream(), timeout);
  }

  /** The NCCL library's version, e.g. 22703 for 2.27.3. */
  public static int version() {
    int[] v = new int[1];
    check(nccl.ncclGetVersion(v), "ncclGetVersion", null);
    return v[0];
  }

  public int device() {
    return device;
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
    long n = fp32(tensor);
    Pointer p = pointer(tensor);
    enqueue("allReduce of " + n + " values", () -> nccl.ncclAllReduce(p, p, n, nccl.ncclFloat32, nccl.ncclSum, comm,
        stream)).await();
  }

  @Override
  public double[] allReduce(double[] values, Op op) {
    return control(() -> control.allReduce(values, op));
  }

  @Override
  public void broadcast(NDArray tensor, int root) {
    long n = fp32(tensor);
    Pointer p = pointer(tensor);
    enqueue("broadcast of " + n + " values from rank " + root,
        () -> nccl.ncclBroadcast(p, p, n, nccl.ncclFloat32, root, comm, stream)).await();
  }

  @Override
  public Pending allGatherAsync(NDArray shard, NDArray full) {
    long n = fp32(shard);
    Collective.requireShards("allGather", n, fp32(full), size);
    Pointer send = pointer(shard);
    Pointer receive = pointer(full);
    return enqueue("allGather of " + n + " values per rank",
        () -> nccl.ncclAllGather(send, receive, n, nccl.ncclFloat32, comm, stream));
  }

  @Override
  public Pending reduceScatterAsync(NDArray full, NDArray shard) {
    long n = fp32(shard);
    Collective.requireShards("reduceScatter", n, fp32(full), size);
    Pointer send = pointer(full);
    Pointer receive = pointer(shard);
    return enqueue("reduceScatter of " + n + " values per rank",
        () -> nccl.ncclReduceScatter(send, receive, n, nccl.ncclFloat32, nccl.ncclSum, comm, stream));
  }

  @Override
  public void barrier() {
    control(() -> {
      control.barrier();
      return null;
    });
  }

  @Override
  public void abort(String reason) {
    fail("rank " + rank + " aborted the group: " + reason);
  }

  /**
   * Leaves the group. A healthy group waits (at most the timeout) for what is in flight and destroys its communicator;
   * a broken one, or one whose operations do not finish, is aborted instead (destroying would wait forever).
   */
  @Override
  public void close() {
    closed = true;
    watchdog.interrupt();
    try {
      watchdog.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean drained = broken.get() == null;
    while (drained && !inFlight.isEmpty()) {
      InFlight oldest = inFlight.peek();
      try {
        if (Cuda.done(oldest.done())) {
          inFlight.poll();
          Cuda.destroy(oldest.done());
          continue;
        }
      } catch (RuntimeException e) {
        drained = false;
        break;
      }
      if (System.nanoTime() > deadline) {
        drained = false;
        break;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        drained = false;
      }
    }
    synchronized (this) {
      if (!released) {
        released = true;
        if (drained) {
          nccl.ncclCommDestroy(comm);
        } else {
          broken.compareAndSet(null, "closed with operations in flight");
          nccl.ncclCommAbort(comm);
        }
      }
      Cuda.destroy(stream);
    }
    control.close();
  }

  private interface NcclCall {
    int run();
  }

  /** Runs an NCCL call on the communication stream after the null stream's work so far; awaiting joins it back. */
  private Pending enqueue(String what, NcclCall call) {
    CUevent_st joined;
    synchronized (this) { // never concurrently with the watchdog's abort or with close's destroy
      requireWhole();
      CUevent_st ready = Cuda.newEvent();
      Cuda.order(Cuda.DEFAULT_STREAM, stream, ready);
      Cuda.destroy(ready); // the wait is enqueued: the event may go
      check(call.run(), what, comm);
      CUevent_st watched = Cuda.newEvent();
      Cuda.record(watched, stream);
      inFlight.add(new InFlight(watched, System.nanoTime(), what));
      joined = Cuda.newEvent();
      Cuda.record(joined, stream);
    }
    boolean[] awaited = {false};
    return () -> {
      if (awaited[0]) {
        return;
      }
      awaited[0] = true;
      requireWhole();
      // the null stream waits (on the device) for the operation; the event may then go (CUDA keeps the dependency)
      Cuda.check(org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent(Cuda.DEFAULT_STREAM, joined, 0),
          "cudaStreamWaitEvent after " + what);
      Cuda.destroy(joined);
    };
  }

  /** Runs a control-plane call; its failure (a peer gone) breaks this group too, so that nothing waits on NCCL. */
  private <T> T control(java.util.function.Supplier<T> call) {
    requireWhole();
    try {
      return call.get();
    } catch (CollectiveException e) {
      fail(e.getMessage());
      throw e;
    }
  }

  private void requireWhole() {
    String why = broken.get();
    if (why != null) {
      throw new CollectiveException("rank " + rank + " (GPU " + device + "): " + why);
    }
  }

  /** Polls the operations in flight and NCCL's asynchronous errors; aborts on a timeout or an error. */
  private void watch() {
    Cuda.setDevice(device);
    long failedAt = 0;
    while (!closed) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        return;
      }
      if (broken.get() == null && !closed) {
        int[] error = new int[1];
        nccl.ncclCommGetAsyncError(comm, error);
        if (error[0] != nccl.ncclSuccess && error[0] != nccl.ncclInProgress) {
          fail("NCCL reports " + nccl.ncclGetErrorString(error[0]).getString() + " ("
              + nccl.ncclGetLastError(comm).getString() + "): a peer failed or the network between the GPUs did");
        }
        InFlight oldest;
        while ((oldest = inFlight.peek()) != null) {
          boolean finished;
          try {
            finished = Cuda.done(oldest.done());
          } catch (RuntimeException e) {
            fail("the device reported an error during " + oldest.what() + ": " + e.getMessage());
            break;
          }
          if (!finished) {
            if (System.nanoTime() - oldest.started() > timeout.toNanos()) {
              fail(oldest.what() + " did not complete within " + timeout + " (a peer hangs or died)");
            }
            break;
          }
          inFlight.poll();
          Cuda.destroy(oldest.done());
        }
      }
      if (broken.get() != null) {
        if (failedAt == 0) {
          failedAt = System.nanoTime();
        } else if (System.nanoTime() - failedAt > GRACE.toNanos() && !closed) {
          PrintStream err = System.err;
          err.println("rank " + rank + " (GPU " + device + "): " + broken.get() + "; the rank did not stop within "
              + GRACE + ": exiting (a restart resumes from the last checkpoint)");
          err.flush();
          Runtime.getRuntime().halt(1);
        }
      }
    }
  }

  /** The first failure aborts the communicator (its kernels end) and the control plane (the peers learn of it). */
  private void fail(String why) {
    if (broken.compareAndSet(null, why)) {
      synchronized (this) {
        if (!released) {
          released = true;
          nccl.ncclCommAbort(comm);
        }
      }
      control.abort(why);
    }
  }

  private static long fp32(NDArray tensor) {
    if (tensor.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("collectives move fp32 tensors, not " + tensor.getDataType());
    }
    return tensor.getShape().size();
  }

  private static Pointer pointer(NDArray tensor) {
    return new Pointer(NativeMemory.head(tensor));
  }

  private static void check(int status, String what, ncclComm comm) {
    if (status != nccl.ncclSuccess && status != nccl.ncclInProgress) {
      String detail = comm == null ? "" : " (" + nccl.ncclGetLastError(comm).getString() + ")";
      throw new CollectiveException(what + " failed: " + nccl.ncclGetErrorString(status).getString() + detail);
    }
  }
}
