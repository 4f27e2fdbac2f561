package io.pose.images;

import io.pose.images.ImagePlan.Directory;
import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The trainer image ({@code pose-trainer}): the {@code pose} command of trainer-image/target/pose on a JRE, with
 * libtorch in layers of its own, so a code change re-pushes the app layer (a few MB), not libtorch (GBs).
 *
 * <ul>
 *   <li>{@code cpu}: libtorch 2.7.1 for CPU from DJL's natives jar, on a JRE base image (Java at
 *       {@value Jre#JAVA_HOME}; the default, Eclipse Temurin, has it there).
 *   <li>{@code cuda}: libtorch 2.7.1 built for CUDA 12.6 from the torch wheel and the NVIDIA runtime wheels it
 *       requires (cuBLAS, cuDNN, NCCL, ...; one layer each), laid out as pip installs them so the libraries' own
 *       RUNPATHs ({@code $ORIGIN/../../nvidia/...}) find each other; on an NVIDIA CUDA base image, with a jlink JRE.
 * </ul>
 *
 * <p>Either way DJL finds libtorch, its JNI library and the tokenizers library through its variables
 * ({@code PYTORCH_LIBRARY_PATH}, {@code RUST_LIBRARY_PATH}, offline), so nothing is downloaded or unpacked at run
 * time. The entrypoint is the {@code pose} command itself (java, no shell); stage Jobs pass only arguments.
 */
public final class TrainerImage {

  public static final String NAME = "pose-trainer";
  public static final String OPT = "/opt/pose";
  public static final String HOME = "/home/pose";
  public static final String MAIN = "io.pose.trainer.cli.Pose";
  /** libtorch's version, the one DJL 0.36 is built for. */
  public static final String LIBTORCH = "2.7.1";
  /** Where the cuda flavour keeps the wheels' files, as site-packages would. */
  public static final String PYTHON = OPT + "/python";

  /** The two flavours, their default base images and tag suffixes. */
  public enum Flavour {
    CPU("eclipse-temurin:17-jre-noble", "-cpu"),
    CUDA("nvidia/cuda:12.6.3-base-ubuntu24.04", "");

    public final String defaultBase;
    public final String tagSuffix;

    Flavour(String defaultBase, String tagSuffix) {
      this.defaultBase = defaultBase;
      this.tagSuffix = tagSuffix;
    }

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Libraries an Ubuntu or Debian base provides besides glibc, and (cuda) the driver the runtime mounts. */
  static final Set<String> UBUNTU = Set.of("libstdc++.so.6", "libgcc_s.so.1", "libz.so.1");
  static final Set<String> DRIVER = Set.of("libcuda.so.1", "libnvidia-ml.so.1");

  private TrainerImage() {}

  /**
   * The plan of one flavour.
   *
   * @param dist trainer-image/target/pose (bin/, app/, lib/)
   * @param base the base image
   * @param jre a jlink runtime to add as a layer, or null when the base has Java at {@value Jre#JAVA_HOME}
   * @param wheels the cuda flavour's wheels in the lock's order (torch first); ignored for cpu
   */
  public static ImagePlan plan(Flavour flavour, Path dist, String base, Path jre, List<Path> wheels,
      Images.Release release) throws IOException {
    Path app = dist.resolve("app");
    Path lib = dist.resolve("lib");
    if (!Files.isDirectory(app) || !Files.isDirectory(lib)) {
      throw new IOException(dist + " is not the pose distribution (no app/ and lib/): run ./mvnw package first");
    }
    Path nativeCpu = Images.jar(lib, "pytorch-native-cpu-");
    Path jni = Images.jar(lib, "pytorch-jni-");
    Path tokenizers = Images.jar(lib, "tokenizers-");

    List<Layer> layers = new ArrayList<>();
    layers.add(new Layer("home", List.of(new Entry(new Directory(), HOME, 0755, Images.USER))));
    Set<String> provided = new HashSet<>(LibraryCheck.GLIBC);
    provided.addAll(UBUNTU);
    List<String> ldPath = new ArrayList<>();
    if (jre != null) {
      layers.add(Jre.layer(jre, provided));
      ldPath.add(Jre.JAVA_HOME + "/lib");
    }
    Map<String, String> env = new LinkedHashMap<>();
    String libtorchDir;
    String licenses;
    if (flavour == Flavour.CPU) {
      libtorchDir = OPT + "/libtorch/lib";
      String prefix = "pytorch/cpu/linux-x86_64/";
      layers.add(new Layer("libtorch " + LIBTORCH + " cpu", Images.members(nativeCpu,
          m -> m.startsWith(prefix) && m.length() > prefix.length() ? libtorchDir + "/" + m.substring(prefix.length())
              : null)));
      env.put("PYTORCH_FLAVOR", "cpu");
      licenses = "Apache-2.0 AND BSD-3-Clause";
    } else {
      if (wheels == null || wheels.isEmpty()) {
        throw new IllegalArgumentException("the cuda flavour needs the wheels of " + Wheels.LOCK);
      }
      libtorchDir = PYTHON + "/torch/lib";
      for (Path wheel : wheels.subList(1, wheels.size())) {
        String project = project(wheel);
        List<Entry> entries = Images.members(wheel, m -> nvidiaMember(m, project));
        for (Entry e : entries) {
          String dir = e.path().substring(0, e.path().lastIndexOf('/'));
          if (LibraryCheck.isSharedObjectName(e.path()) && !ldPath.contains(dir)) {
            ldPath.add(dir);
          }
        }
        layers.add(new Layer(project + " " + version(wheel), entries));
      }
      Path torch = wheels.get(0);
      layers.add(new Layer("torch " + version(torch) + " (libtorch cuda)", Images.members(torch,
          m -> torchMember(m))));
      ldPath.add(libtorchDir);
      env.put("PYTORCH_FLAVOR", "cu128");
      licenses = "Apache-2.0 AND BSD-3-Clause AND LicenseRef-NVIDIA-CUDA-EULA";
      provided.addAll(DRIVER);
    }
    String jniMember = "jnilib/linux-x86_64/" + (flavour == Flavour.CPU ? "cpu" : "cu128") + "/libdjl_torch.so";
    List<Entry> natives = new ArrayList<>(Images.members(jni, m -> m.equals(jniMember)
        ? libtorchDir + "/libdjl_torch.so" : null));
    natives.addAll(Images.members(tokenizers, m -> m.equals("native/lib/linux-x86_64/cpu/libtokenizers.so")
        ? OPT + "/native/libtokenizers.so" : null));
    if (natives.size() != 2) {
      throw new IOException(jni.getFileName() + " or " + tokenizers.getFileName() + " lacks its linux-x86_64 "
          + "library (" + jniMember + ", native/lib/linux-x86_64/cpu/libtokenizers.so)");
    }
    layers.add(new Layer("djl natives", natives));
    layers.add(new Layer("dependencies", Images.jars(lib, OPT + "/lib", n -> !n.startsWith("pytorch-native-"))));
    layers.add(new Layer("app", Images.jars(app, OPT + "/app", n -> true)));

    if (!ldPath.isEmpty()) {
      env.put("LD_LIBRARY_PATH", String.join(":", ldPath));
    }
    env.put("PYTORCH_LIBRARY_PATH", libtorchDir);
    env.put("PYTORCH_VERSION", LIBTORCH);
    env.put("RUST_LIBRARY_PATH", OPT + "/native/libtokenizers.so");
    env.put("DJL_OFFLINE", "true");
    env.put("OPT_OUT_TRACKING", "true");
    env.put("DJL_CACHE_DIR", "/tmp/djl");
    env.put("HOME", HOME);

    List<String> entrypoint = List.of(Jre.JAVA_HOME + "/bin/java",
        // libtorch's tensors live outside the heap: leave most of the memory to them
        "-XX:MaxRAMPercentage=40",
        "-Duser.home=" + HOME,
        "-Djava.awt.headless=true",
        // JavaCPP unpacks its JNI wrappers (NCCL, CUDA runtime) at run time: a directory any user may write
        "-Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp",
        "-cp", OPT + "/app/*:" + OPT + "/lib/*", MAIN);
    String tag = release.tag() + flavour.tagSuffix;
    return new ImagePlan(NAME, tag, base, List.copyOf(layers), entrypoint, env, Images.USER, HOME,
        Images.labels(release, NAME, "PoSE context extension: the pose command (fetch, train, eval, publish) with "
            + "libtorch " + LIBTORCH + " for " + (flavour == Flavour.CPU ? "CPU" : "CUDA 12"), licenses, base),
        List.of(), Set.copyOf(provided));
  }

  /**
   * The JNI libraries JavaCPP unpacks at run time (into {@code -Dorg.bytedeco.javacpp.cachedir}) and loads when a run
   * uses GPUs: its own, the CUDA runtime's and NCCL's wrappers, by the path they will have, for {@link LibraryCheck}.
   */
  public static Map<String, ImagePlan.ZipMember> javacppLibraries(Path dist) throws IOException {
    Path lib = dist.resolve("lib");
    Map<String, ImagePlan.ZipMember> out = new LinkedHashMap<>();
    for (String[] jarAndMember : new String[][] {
        {"javacpp-", "org/bytedeco/javacpp/linux-x86_64/libjnijavacpp.so"},
        {"cuda-", "org/bytedeco/cuda/linux-x86_64/libjnicudart.so"},
        {"cuda-", "org/bytedeco/cuda/linux-x86_64/libjninccl.so"}}) {
      Path jar = null;
      for (Path p : Sorted.files(lib)) {
        String n = p.getFileName().toString();
        if (n.startsWith(jarAndMember[0]) && n.endsWith("-linux-x86_64.jar")) {
          jar = p;
        }
      }
      if (jar == null) {
        throw new IOException(lib + " has no " + jarAndMember[0] + "*-linux-x86_64.jar: build with ./mvnw package");
      }
      for (ImagePlan.Entry e : Images.members(jar, m -> m.equals(jarAndMember[1]) ? "/tmp/javacpp/" + m : null)) {
        out.put(e.path(), (ImagePlan.ZipMember) e.source());
      }
    }
    return out;
  }

  /**
   * The libraries of an NVIDIA wheel ({@code nvidia/<pkg>/lib/*}, or {@code cusparselt/lib/*}, which that wheel
   * installs outside nvidia/) and its licence, where pip would put them.
   */
  private static String nvidiaMember(String member, String project) {
    if (member.endsWith("/libcufile_rdma.so.1")) {
      return null; // GPUDirect Storage over RDMA: needs the host's RDMA stack (libibverbs), which cuFile dlopens
    }
    if (member.matches("(nvidia/[^/]+|[^/]+)/lib/[^/]+") && LibraryCheck.isSharedObjectName(member)) {
      return PYTHON + "/" + member;
    }
    if (member.matches("([^/]+\\.dist-info|cusparselt)/(License\\.txt|LICENSE(\\.txt)?)")) {
      return OPT + "/licenses/" + project + "/" + member.substring(member.indexOf('/') + 1);
    }
    return null;
  }

  /** torch/lib's libraries except libtorch_python (it needs libpython) and the torch licence. */
  private static String torchMember(String member) {
    if (member.startsWith("torch/lib/") && LibraryCheck.isSharedObjectName(member)
        && !member.endsWith("/libtorch_python.so")) {
      return PYTHON + "/" + member;
    }
    if (member.matches("torch-[^/]+\\.dist-info/LICENSE")) {
      return OPT + "/licenses/torch/LICENSE";
    }
    return null;
  }

  /** The distribution name of a wheel file, normalized: nvidia_cublas_cu12-12.6.4.1-... -> nvidia-cublas-cu12. */
  static String project(Path wheel) {
    return wheel.getFileName().toString().split("-")[0].toLowerCase(Locale.ROOT).replace('_', '-');
  }

  static String version(Path wheel) {
    return wheel.getFileName().toString().split("-")[1];
  }
}
