package io.pose.trainer.dist;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The CUDA runtime calls the distributed layer makes itself (through JavaCPP's cuda preset): devices, memory, and
 * the streams and events that order collectives against DJL's kernels. DJL's kernels run on each device's default
 * (null) stream; a collective on the null stream is ordered with them, one on a stream of its own overlaps them and
 * is joined through an event. Nothing here is loaded until a run uses GPUs: on a machine without the NVIDIA driver
 * the first call fails with {@link CudaUnavailableException}, whose message says what is missing.
 */
public final class Cuda {
  private Cuda() {}

  /** The CUDA runtime, libcuda or NCCL could not be loaded or used. */
  public static final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The null stream: where DJL's kernels run. */
  public static final CUstream_st DEFAULT_STREAM = null;

  /** GPUs this process can see (CUDA_VISIBLE_DEVICES applies); 0 when there is no driver or no device. */
  public static int deviceCount() {
    try {
      int[] n = new int[1];
      int status = cudart.cudaGetDeviceCount(n);
      return status == cudart.cudaSuccess ? n[0] : 0;
    } catch (Throwable e) {
      return 0; // no libcudart / libcuda: no GPU
    }
  }

  /** Why no GPU is usable, for messages: the loader's error, or the runtime's status. */
  public static String whyNoDevice() {
    try {
      int[] n = new int[1];
      int status = cudart.cudaGetDeviceCount(n);
      if (status != cudart.cudaSuccess) {
        return "the CUDA runtime reports " + cudart.cudaGetErrorString(status).getString() + " (is the NVIDIA driver "
            + "mounted into the container, e.g. by the NVIDIA container runtime?)";
      }
      return n[0] + " GPUs visible (CUDA_VISIBLE_DEVICES=" + System.getenv("CUDA_VISIBLE_DEVICES") + ")";
    } catch (Throwable e) {
      return "the CUDA runtime could not be loaded (" + rootMessage(e) + ")";
    }
  }

  /** Makes device the calling thread's current device (what NCCL and the event calls use). */
  public static void setDevice(int device) {
    check(call(() -> cudart.cudaSetDevice(device)), "cudaSetDevice(" + device + ")");
  }

  /** Free and total bytes of the current device. */
  public static long[] memoryInfo() {
    try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
      check(call(() -> cudart.cudaMemGetInfo(free, total)), "cudaMemGetInfo");
      return new long[] {free.get(), total.get()};
    }
  }

  /** A stream that does not synchronize with the null stream (so its work overlaps DJL's kernels). */
  public static CUstream_st newStream() {
    CUstream_st stream = new CUstream_st();
    check(call(() -> cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking)), "cudaStreamCreateWithFlags");
    return stream;
  }

  /** An event for ordering only (no timing). */
  public static CUevent_st newEvent() {
    CUevent_st event = new CUevent_st();
    check(call(() -> cudart.cudaEventCreateWithFlags(event, cudart.cudaEventDisableTiming)), "cudaEventCreateWithFlags");
    return event;
  }

  /** Makes {@code waiting} wait (on the device, not the host) for what {@code on} has enqueued so far. */
  public static void order(CUstream_st on, CUstream_st waiting, CUevent_st event) {
    check(cudart.cudaEventRecord(event, on), "cudaEventRecord");
    check(cudart.cudaStreamWaitEvent(waiting, event, 0), "cudaStreamWaitEvent");
  }

  public static void record(CUevent_st event, CUstream_st stream) {
    check(cudart.cudaEventRecord(event, stream), "cudaEventRecord");
  }

  /** True when everything recorded before the event has run; throws on a device error. */
  public static boolean done(CUevent_st event) {
    int status = cudart.cudaEventQuery(event);
    if (status == cudart.cudaErrorNotReady) {
      return false;
    }
    check(status, "cudaEventQuery");
    return true;
  }

  public static void destroy(CUevent_st event) {
    cudart.cudaEventDestroy(event);
  }

  public static void destroy(CUstream_st stream) {
    cudart.cudaStreamDestroy(stream);
  }

  /** Waits on the host until the device has run everything enqueued on the current device. */
  public static void synchronize() {
    check(cudart.cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  static void check(int status, String what) {
    if (status != cudart.cudaSuccess) {
      throw new IllegalStateException(what + " failed: " + cudart.cudaGetErrorString(status).getString());
    }
  }

  private interface Call {
    int run();
  }

  /** Runs a first CUDA call, turning a failure to load the libraries into a message that says what is missing. */
  private static int call(Call c) {
    try {
      return c.run();
    } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
      throw new CudaUnavailableException("the CUDA runtime could not be loaded (" + rootMessage(e) + "): a GPU run "
          + "needs libcudart.so.12 and libnccl.so.2 (a CUDA 12 base image) and libcuda.so.1 (the NVIDIA container "
          + "runtime)", e);
    }
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
