package io.pose.images;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pose.images.ImageBuilder.Pushed;
import io.pose.images.ImageBuilder.Registries;
import io.pose.images.TrainerImage.Flavour;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pose-images build}: the release command. Builds the trainer image in both flavours and the operator image
 * from what {@code ./mvnw package} left, and pushes them to a registry; {@code --plan} only prints what each image
 * would hold and checks its libraries. Run through Maven: {@code ./mvnw package -Pimages -Dimages.registry=R}.
 */
@Command(name = "pose-images", mixinStandardHelpOptions = true, subcommands = ImagesCommand.Build.class,
    description = "Builds and pushes the pose-trainer (cpu, cuda) and pose-operator images without a Docker daemon.")
public final class ImagesCommand {

  /** Exit codes: as the trainer's (0 done, 1 failure a retry may fix, 2 wrong usage, 3 missing input). */
  static final int FAILED = 1;
  static final int MISSING_INPUT = 3;

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  public static int execute(String... args) {
    return new CommandLine(new ImagesCommand()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
  }

  /** The images this command knows, by the names --images takes. */
  enum Which {
    TRAINER_CPU("trainer-cpu"), TRAINER_CUDA("trainer-cuda"), OPERATOR("operator");

    final String id;

    Which(String id) {
      this.id = id;
    }

    static Which of(String id) {
      for (Which w : values()) {
        if (w.id.equals(id)) {
          return w;
        }
      }
      throw new CommandLine.TypeConversionException("--images takes trainer-cpu, trainer-cuda and operator, not '"
          + id + "'");
    }
  }

  @Command(name = "build", mixinStandardHelpOptions = true,
      description = "Builds the images and pushes them to --registry (or, with --plan, prints and checks them).")
  static final class Build implements Callable<Integer> {
    @Option(names = "--root", defaultValue = ".", description = "The repository root (built with ./mvnw package).")
    Path root;

    @Option(names = "--version", required = true, description = "The project version; the tag drops -SNAPSHOT.")
    String version;

    @Option(names = "--registry", description = "Where to push, e.g. ghcr.io/pose-io or localhost:5000/pose: "
        + "images go to <registry>/pose-trainer:<tag>, <registry>/pose-trainer:<tag>-cpu and "
        + "<registry>/pose-operator:<tag>. Required unless --plan.")
    String registry;

    @Option(names = "--images", split = ",", defaultValue = "trainer-cpu,trainer-cuda,operator",
        description = "Which images: ${DEFAULT-VALUE}.")
    List<String> images;

    @Option(names = "--base-cpu", defaultValue = "eclipse-temurin:17-jre-noble",
        description = "Base of the cpu trainer: a glibc image with Java 17+ at /opt/java/openjdk (${DEFAULT-VALUE}).")
    String baseCpu;

    @Option(names = "--base-cuda", defaultValue = "nvidia/cuda:12.6.3-base-ubuntu24.04",
        description = "Base of the cuda trainer: a CUDA 12 image (${DEFAULT-VALUE}); Java comes from jlink.")
    String baseCuda;

    @Option(names = "--base-operator", defaultValue = "eclipse-temurin:17-jre-noble",
        description = "Base of the operator: a glibc image with Java 17+ at /opt/java/openjdk (${DEFAULT-VALUE}).")
    String baseOperator;

    @Option(names = "--jlink", description = "Add a jlink runtime to every image, also those on a JRE base (for "
        + "bases without Java at /opt/java/openjdk).")
    boolean jlinkAll;

    @Option(names = "--insecure", description = "Allow registries over plain HTTP or with untrusted certificates.")
    boolean insecure;

    @Option(names = "--mirror", paramLabel = "REGISTRY=MIRROR", description = "Pull base images of REGISTRY "
        + "(e.g. docker.io) from MIRROR; repeatable.")
    Map<String, String> mirrors = new LinkedHashMap<>();

    @Option(names = "--wheels", description = "A directory holding the cuda flavour's wheels (see cuda-wheels.json) "
        + "instead of downloading them.")
    Path wheels;

    @Option(names = "--pypi-files", description = "A mirror of https://files.pythonhosted.org for the wheels.")
    String pypiFiles;

    @Option(names = "--cache", description = "Cache of wheels, unpacked libraries, the jlink runtime and Jib's "
        + "layers (default: $POSE_CACHE_DIR or ~/.cache/pose).")
    Path cache;

    @Option(names = "--revision", description = "The source revision for the labels (default: git rev-parse HEAD).")
    String revision;

    @Option(names = "--source", defaultValue = "https://github.com/pose-io/pose-operator",
        description = "The source repository for the labels (${DEFAULT-VALUE}).")
    String source;

    @Option(names = "--plan", description = "Print each image's layers and check its libraries; build nothing.")
    boolean planOnly;

    @Option(names = "--output", description = "Write the pushed references and digests to this JSON file.")
    Path output;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
          StandardCharsets.UTF_8);
      if (registry == null && !planOnly) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--registry is required (or --plan)");
      }
      List<Which> which = images.stream().map(Which::of).toList();
      Path cacheDir = cache != null ? cache : defaultCache();
      Images.Release release = new Images.Release(version, revision != null ? revision : gitRevision(root), source);
      Path dist = root.resolve("trainer-image/target/pose");
      Path quarkusApp = root.resolve("operator/target/quarkus-app");
      Map<String, List<String>> mirrorMap = new LinkedHashMap<>();
      mirrors.forEach((registryName, mirror) -> mirrorMap.put(
          registryName.equals("docker.io") ? "registry-1.docker.io" : registryName, List.of(mirror)));
      ImageBuilder builder = new ImageBuilder(cacheDir, new Registries(insecure, mirrorMap), out);
      Path jre = null;
      List<Pushed> pushed = new ArrayList<>();
      try {
        for (Which w : which) {
          ImagePlan plan;
          if (w == Which.OPERATOR) {
            plan = OperatorImage.plan(quarkusApp, baseOperator, jlinkAll ? jre = jre(jre, cacheDir) : null, release);
          } else if (w == Which.TRAINER_CPU) {
            plan = TrainerImage.plan(Flavour.CPU, dist, baseCpu, jlinkAll ? jre = jre(jre, cacheDir) : null, null,
                release);
          } else {
            List<Path> files = Wheels.resolve(Wheels.lock(), wheels, cacheDir.resolve("wheels"), pypiFiles, out);
            plan = TrainerImage.plan(Flavour.CUDA, dist, baseCuda, jre = jre(jre, cacheDir), files, release);
          }
          out.print(plan.describe());
          Map<String, ImagePlan.ZipMember> runtime = w == Which.TRAINER_CUDA ? TrainerImage.javacppLibraries(dist)
              : Map.of();
          List<String> problems = LibraryCheck.problems(LibraryCheck.check(plan, p -> true, runtime), plan);
          if (!problems.isEmpty()) {
            System.err.println("pose-images: " + plan.name() + ":" + plan.tag() + " would not load:\n  "
                + String.join("\n  ", problems));
            return FAILED;
          }
          out.println("  libraries: every DT_NEEDED resolves");
          if (!planOnly) {
            Pushed p = builder.push(plan, plan.reference(registry));
            out.println("pushed " + p.reference() + " " + p.digest());
            pushed.add(p);
          }
        }
      } catch (java.nio.file.NoSuchFileException e) {
        System.err.println("pose-images: " + e.getFile() + " does not exist: run ./mvnw package first");
        return MISSING_INPUT;
      } catch (IOException e) {
        System.err.println("pose-images: " + e.getMessage());
        return e.getMessage() != null && e.getMessage().contains("./mvnw package") ? MISSING_INPUT : FAILED;
      }
      if (output != null) {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(output.toFile(), pushed);
      }
      return 0;
    }

    private static Path jre(Path made, Path cache) throws IOException {
      return made != null ? made : Jre.jlink(Path.of(System.getProperty("java.home")), cache);
    }
  }

  static Path defaultCache() {
    String env = System.getenv("POSE_CACHE_DIR");
    return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "pose");
  }

  /** The checked-out commit, or "unknown" outside a git checkout. */
  static String gitRevision(Path root) {
    try {
      Process p = new ProcessBuilder("git", "-C", root.toString(), "rev-parse", "HEAD").redirectErrorStream(true)
          .start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      return p.waitFor() == 0 && text.matches("[0-9a-f]{40}") ? text : "unknown";
    } catch (IOException e) {
      return "unknown";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

}
