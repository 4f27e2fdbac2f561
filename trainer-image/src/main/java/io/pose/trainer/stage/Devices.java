package io.pose.trainer.stage;

import ai.djl.Device;
import ai.djl.engine.Engine;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.trainer.dist.Cuda;
import io.pose.trainer.dist.World;
import java.util.Locale;

/**
 * The devices a stage runs on: the GPUs the pod was given when the spec asks for GPUs (checked before any work,
 * never a quiet fall back to the CPU), the CPU otherwise, even where a CUDA build of libtorch and a GPU are present.
 */
public final class Devices {
  private Devices() {}

  /** The device of a process's local rank. */
  public static Device of(World world, int localRank) {
    return world.gpus() ? Device.gpu(localRank) : Device.cpu();
  }

  /**
   * Fails (exit 3) unless libtorch sees at least the GPUs the world needs per node; names what is missing: the
   * devices, the driver, or the CUDA build of libtorch (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR, PYTORCH_VERSION).
   */
  public static void check(World world) throws StageException {
    if (world.gpus()) {
      require(world.ranksPerNode(), "spec.resources.gpusPerNode");
    }
  }

  /**
   * Fails (exit 3) unless libtorch sees at least this many GPUs.
   *
   * @param field the spec field that asks for them
   */
  public static void require(int gpus, String field) throws StageException {
    int usable;
    String engine;
    try {
      Engine e = Engine.getEngine("PyTorch");
      usable = e.getGpuCount();
      engine = "libtorch " + e.getVersion() + (e.hasCapability("CUDA") ? " (CUDA build)" : " (CPU build)");
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      throw new StageException(ExitCode.MISSING_INPUT, field + " asks for " + gpus + " GPUs, but libtorch could not be "
          + "loaded: " + e.getMessage(), e);
    }
    if (usable >= gpus) {
      return;
    }
    String flavor = System.getenv("PYTORCH_FLAVOR");
    String library = System.getenv("PYTORCH_LIBRARY_PATH");
    String hint = engine.endsWith("(CPU build)")
        ? "the CPU build of libtorch is loaded: point PYTORCH_LIBRARY_PATH at the CUDA libtorch " + "2.7.1 libraries "
            + "and set PYTORCH_FLAVOR=cu128 and PYTORCH_VERSION=2.7.1 (the cuda trainer image does)"
        : "the driver reports: " + Cuda.whyNoDevice();
    throw new StageException(ExitCode.MISSING_INPUT, String.format(Locale.ROOT,
        "%s asks for %d GPU%s per node, this pod's %s sees %d (%s; PYTORCH_FLAVOR=%s, PYTORCH_LIBRARY_PATH=%s); a "
            + "run that asks for GPUs never falls back to the CPU (set %s to 0 for a CPU run)",
        field, gpus, gpus == 1 ? "" : "s", engine, usable, hint, flavor, library, field));
  }

  /** The total memory of GPU 0 (the pod's GPUs are alike), bytes. */
  public static long memory() {
    Cuda.setDevice(0);
    return Cuda.memoryInfo()[1];
  }
}
