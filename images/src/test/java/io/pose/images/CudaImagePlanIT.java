package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.Layer;
import io.pose.images.ImagePlan.ZipMember;
import io.pose.images.LibraryCheck.Library;
import io.pose.images.TrainerImage.Flavour;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cuda trainer image's plan, from the real wheels of the lock (the whole set: downloaded once into the cache,
 * ~2.8 GB, and checked against their pinned SHA-256) and the real distribution, by the code path that builds it:
 * which files come from which wheel, the layer order, the DJL variables, and every DT_NEEDED of libtorch's CUDA
 * libraries, of the NVIDIA libraries, of the JRE and of JavaCPP's CUDA and NCCL wrappers resolving inside the image
 * by the loader's rules. No GPU and no push: the plan is what `pose-images build` would push.
 */
class CudaImagePlanIT {
  static final Path ROOT = ImagesIT.ROOT;
  static ImagePlan plan;
  static Map<String, ZipMember> javacpp;

  @BeforeAll
  static void plan() throws Exception {
    Path cache = ImagesCommand.defaultCache();
    List<Path> wheels;
    try {
      wheels = Wheels.resolve(Wheels.lock(), null, cache.resolve("wheels"), null, System.out);
    } catch (java.io.IOException e) {
      Throwable cause = e.getCause();
      // only an unreachable PyPI skips; a wheel that does not match its pin fails the test
      org.junit.jupiter.api.Assumptions.assumeFalse(cause instanceof java.net.ConnectException
          || cause instanceof java.net.UnknownHostException || cause instanceof java.net.http.HttpConnectTimeoutException,
          "PyPI is unreachable from this machine (" + e.getMessage() + "): the cuda plan is checked against the real "
              + "wheels, which are neither in " + cache.resolve("wheels") + " nor downloadable here");
      throw e;
    }
    Path jre = Jre.jlink(Path.of(System.getProperty("java.home")), cache);
    Path dist = ROOT.resolve("trainer-image/target/pose");
    plan = TrainerImage.plan(Flavour.CUDA, dist, Flavour.CUDA.defaultBase, jre, wheels,
        new Images.Release("0.1.0-SNAPSHOT", "unknown", "https://github.com/pose-io/pose-operator"));
    javacpp = TrainerImage.javacppLibraries(dist);
  }

  @Test
  void theLayersGoFromRarelyToOftenChangedAndEachWheelHasItsOwn() {
    List<String> names = plan.layers().stream().map(Layer::name).toList();
    assertThat(names.get(0)).isEqualTo("home");
    assertThat(names.get(1)).startsWith("jre ");
    List<String> nvidia = new ArrayList<>();
    for (Wheels.Wheel w : Wheels.lock().wheels().subList(1, Wheels.lock().wheels().size())) {
      nvidia.add(w.project() + " " + w.version());
    }
    assertThat(names.subList(2, 2 + nvidia.size())).containsExactlyElementsOf(nvidia);
    assertThat(names.subList(2 + nvidia.size(), names.size())).containsExactly("torch 2.7.1 (libtorch cuda)",
        "djl natives", "dependencies", "app");
    assertThat(plan.tag()).isEqualTo("0.1.0");
    assertThat(plan.base()).isEqualTo("nvidia/cuda:12.6.3-base-ubuntu24.04");
  }

  @Test
  void eachLibraryComesFromTheWheelPipWouldInstallItFrom() {
    assertThat(source("/opt/pose/python/torch/lib/libtorch_cuda.so")).startsWith("torch-2.7.1-");
    assertThat(source("/opt/pose/python/torch/lib/libc10_cuda.so")).startsWith("torch-2.7.1-");
    assertThat(source("/opt/pose/python/nvidia/nccl/lib/libnccl.so.2")).startsWith("nvidia_nccl_cu12-2.26.2-");
    assertThat(source("/opt/pose/python/nvidia/cudnn/lib/libcudnn.so.9")).startsWith("nvidia_cudnn_cu12-9.5.1.17-");
    assertThat(source("/opt/pose/python/nvidia/cublas/lib/libcublasLt.so.12")).startsWith("nvidia_cublas_cu12-");
    assertThat(source("/opt/pose/python/cusparselt/lib/libcusparseLt.so.0")).startsWith("nvidia_cusparselt_cu12-");
    assertThat(source("/opt/pose/python/torch/lib/libdjl_torch.so"))
        .isEqualTo("pytorch-jni-2.7.1-0.36.0.jar!/jnilib/linux-x86_64/cu128/libdjl_torch.so");
    assertThat(plan.files()).doesNotContainKey("/opt/pose/python/torch/lib/libtorch_python.so")
        .doesNotContainKey("/opt/pose/python/nvidia/cufile/lib/libcufile_rdma.so.1")
        .containsKey("/opt/pose/licenses/nvidia-nccl-cu12/License.txt")
        .containsKey("/opt/pose/licenses/torch/LICENSE");
    assertThat(plan.files().keySet()).noneMatch(p -> p.endsWith(".py") || p.contains("/include/"))
        .noneMatch(p -> p.contains("pytorch-native-cpu"));
    assertThat(plan.layerOf("/opt/pose/python/nvidia/nccl/lib/libnccl.so.2").name())
        .isEqualTo("nvidia-nccl-cu12 2.26.2");
  }

  @Test
  void djlFindsLibtorchItsJniAndTheTokenizersWithoutDownloadingAnything() {
    assertThat(plan.environment()).containsEntry("PYTORCH_LIBRARY_PATH", "/opt/pose/python/torch/lib")
        .containsEntry("PYTORCH_VERSION", "2.7.1").containsEntry("PYTORCH_FLAVOR", "cu128")
        .containsEntry("RUST_LIBRARY_PATH", "/opt/pose/native/libtokenizers.so")
        .containsEntry("DJL_OFFLINE", "true").containsEntry("OPT_OUT_TRACKING", "true");
    assertThat(plan.files()).containsKeys("/opt/pose/python/torch/lib/libtorch.so",
        "/opt/pose/python/torch/lib/libdjl_torch.so", "/opt/pose/native/libtokenizers.so",
        "/opt/java/openjdk/bin/java", "/opt/java/openjdk/lib/server/libjvm.so");
    assertThat(plan.environment().get("LD_LIBRARY_PATH").split(":")).startsWith("/opt/java/openjdk/lib")
        .contains("/opt/pose/python/nvidia/nccl/lib", "/opt/pose/python/nvidia/cuda_runtime/lib",
            "/opt/pose/python/torch/lib");
    assertThat(plan.entrypoint()).startsWith("/opt/java/openjdk/bin/java").endsWith("io.pose.trainer.cli.Pose");
    assertThat(plan.user()).isEqualTo("65532:65532");
    assertThat(plan.labels()).containsEntry("org.opencontainers.image.licenses",
        "Apache-2.0 AND BSD-3-Clause AND LicenseRef-NVIDIA-CUDA-EULA");
  }

  @Test
  void everyNeededLibraryResolvesInsideTheImage() throws Exception {
    List<Library> libraries = LibraryCheck.check(plan, p -> true, javacpp);
    assertThat(LibraryCheck.problems(libraries, plan)).isEmpty();
    Library cuda = library(libraries, "/opt/pose/python/torch/lib/libtorch_cuda.so");
    assertThat(cuda.resolved()).containsEntry("libcudnn.so.9", "/opt/pose/python/nvidia/cudnn/lib/libcudnn.so.9")
        .containsEntry("libnccl.so.2", "/opt/pose/python/nvidia/nccl/lib/libnccl.so.2")
        .containsEntry("libcusparseLt.so.0", "/opt/pose/python/cusparselt/lib/libcusparseLt.so.0")
        .containsEntry("libcudart.so.12", "/opt/pose/python/nvidia/cuda_runtime/lib/libcudart.so.12");
    assertThat(library(libraries, "/tmp/javacpp/org/bytedeco/cuda/linux-x86_64/libjninccl.so").resolved())
        .containsEntry("libnccl.so.2", "/opt/pose/python/nvidia/nccl/lib/libnccl.so.2");
    assertThat(library(libraries, "/opt/java/openjdk/lib/libfontmanager.so").resolved())
        .containsEntry("libfreetype.so.6", "/opt/java/openjdk/lib/libfreetype.so.6");
    assertThat(libraries).extracting(Library::path).contains("/opt/pose/python/torch/lib/libdjl_torch.so",
        "/opt/pose/python/nvidia/cublas/lib/libcublas.so.12");
  }

  @Test
  void aLibraryLeftOutIsNamedWithWhatNeedsItAndWhereItWasSought() throws Exception {
    List<Layer> without = plan.layers().stream().filter(l -> !l.name().startsWith("nvidia-cusparselt-cu12"))
        .toList();
    ImagePlan broken = new ImagePlan(plan.name(), plan.tag(), plan.base(), without, plan.entrypoint(),
        plan.environment(), plan.user(), plan.workingDirectory(), plan.labels(), plan.ports(), plan.baseLibraries());
    List<String> problems = LibraryCheck.problems(LibraryCheck.check(broken,
        p -> p.startsWith("/opt/pose/python/torch/"), Map.of()), broken);
    assertThat(problems).singleElement().asString()
        .startsWith("/opt/pose/python/torch/lib/libtorch_cuda.so (from torch-2.7.1-")
        .contains("needs libcusparseLt.so.0").contains("$ORIGIN/../../cusparselt/lib");
  }

  private static String source(String path) {
    Entry e = plan.files().get(path);
    assertThat(e).as(path + " is in the image").isNotNull();
    return e.source().describe();
  }

  private static Library library(List<Library> libraries, String path) {
    return libraries.stream().filter(l -> l.path().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError(path + " was not checked"));
  }

}
