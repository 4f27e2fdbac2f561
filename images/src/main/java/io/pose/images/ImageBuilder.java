package io.pose.images;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.CredentialRetriever;
import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.InvalidImageReferenceException;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.LogEvent;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import com.google.cloud.tools.jib.api.buildplan.Platform;
import com.google.cloud.tools.jib.api.buildplan.Port;
import com.google.cloud.tools.jib.frontend.CredentialRetrieverFactory;
import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.FileSource;
import io.pose.images.ImagePlan.Layer;
import io.pose.images.ImagePlan.ZipMember;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;

/**
 * Builds an {@link ImagePlan} with Jib (no Docker daemon) and pushes it to a registry. Zip members (libraries from
 * jars and wheels) are unpacked once into the cache and reused; Jib's own caches keep the compressed base and
 * application layers, so a rebuild after a code change compresses and uploads only the layers that changed.
 */
public final class ImageBuilder {

  /** How to reach registries: insecure (plain HTTP or self-signed) ones, mirrors of the base images' registries. */
  public record Registries(boolean insecure, Map<String, List<String>> mirrors) {
    public static Registries secure() {
      return new Registries(false, Map.of());
    }
  }

  /** What a push produced: the reference it was tagged with and the manifest's digest. */
  public record Pushed(String reference, String digest) {
    /** The reference by digest, e.g. {@code ghcr.io/pose-io/pose-trainer@sha256:...}. */
    public String byDigest() {
      return reference.substring(0, reference.lastIndexOf(':')) + "@" + digest;
    }
  }

  private final Path cache;
  private final Registries registries;
  private final PrintStream log;

  public ImageBuilder(Path cache, Registries registries, PrintStream log) {
    this.cache = cache;
    this.registries = registries;
    this.log = log;
  }

  /** Builds the plan and pushes it as {@code reference}; returns the digest the registry holds. */
  public Pushed push(ImagePlan plan, String reference) throws IOException, InterruptedException {
    JibContainerBuilder image;
    try {
      image = plan.base().equals("scratch") ? Jib.fromScratch() : Jib.from(registryImage(plan.base()));
    } catch (InvalidImageReferenceException e) {
      throw new IOException("the base image " + plan.base() + " is not a valid image reference: " + e.getMessage(), e);
    }
    List<FileEntriesLayer> layers = new ArrayList<>();
    for (Layer layer : plan.layers()) {
      layers.add(layer(layer));
    }
    image.setFileEntriesLayers(layers)
        .setEntrypoint(plan.entrypoint())
        .setProgramArguments(List.of())
        .setUser(plan.user())
        .setWorkingDirectory(AbsoluteUnixPath.get(plan.workingDirectory()))
        .setLabels(plan.labels())
        .setExposedPorts(plan.ports().stream().map(Port::tcp).collect(Collectors.toSet()))
        .setFormat(ImageFormat.OCI)
        .setPlatforms(Set.of(new Platform("amd64", "linux")));
    plan.environment().forEach(image::addEnvironmentVariable);
    RegistryImage target;
    try {
      target = registryImage(reference);
    } catch (InvalidImageReferenceException e) {
      throw new IOException(reference + " is not a valid image reference: " + e.getMessage(), e);
    }
    Containerizer containerizer = Containerizer.to(target)
        .setAllowInsecureRegistries(registries.insecure())
        .setBaseImageLayersCache(cache.resolve("jib/base"))
        .setApplicationLayersCache(cache.resolve("jib/application"))
        .setToolName("pose-images")
        .addEventHandler(LogEvent.class, this::onLog);
    registries.mirrors().forEach(containerizer::addRegistryMirrors);
    log.printf("building %s FROM %s (%d layers)%n", reference, plan.base(), layers.size());
    try {
      JibContainer pushed = image.containerize(containerizer);
      return new Pushed(reference, pushed.getDigest().toString());
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IOException("building " + reference + " failed: " + cause, cause);
    } catch (com.google.cloud.tools.jib.api.RegistryException
        | com.google.cloud.tools.jib.api.CacheDirectoryCreationException e) {
      throw new IOException("building " + reference + " failed: " + e.getMessage(), e);
    }
  }

  private RegistryImage registryImage(String reference) throws InvalidImageReferenceException {
    ImageReference ref = ImageReference.parse(reference);
    RegistryImage image = RegistryImage.named(ref);
    CredentialRetrieverFactory credentials = CredentialRetrieverFactory.forImage(ref, e -> {
      if (e.getLevel() == LogEvent.Level.ERROR || e.getLevel() == LogEvent.Level.WARN) {
        log.println(e.getMessage());
      }
    });
    // docker login's config.json (and its credential helpers), then the well-known helpers (gcloud, ECR, ...)
    List<CredentialRetriever> retrievers = List.of(credentials.dockerConfig(), credentials.wellKnownCredentialHelpers());
    retrievers.forEach(image::addCredentialRetriever);
    return image;
  }

  private void onLog(LogEvent e) {
    if (e.getLevel() == LogEvent.Level.ERROR || e.getLevel() == LogEvent.Level.WARN
        || e.getLevel() == LogEvent.Level.LIFECYCLE) {
      log.println("  " + e.getMessage());
    }
  }

  private FileEntriesLayer layer(Layer layer) throws IOException {
    FileEntriesLayer.Builder b = FileEntriesLayer.builder().setName(layer.name());
    for (Entry e : layer.entries()) {
      Path source;
      if (e.source() instanceof FileSource f) {
        source = f.file();
      } else if (e.source() instanceof ZipMember z) {
        source = unpacked(z);
      } else {
        source = emptyDirectory();
      }
      b.addEntry(source, AbsoluteUnixPath.get(e.path()), FilePermissions.fromOctalString(octal(e.mode())),
          FileEntriesLayer.DEFAULT_MODIFICATION_TIME, e.owner());
    }
    return b.build();
  }

  /** A zip member unpacked into the cache (once: keyed by the archive's name and size, both pinned by version). */
  Path unpacked(ZipMember z) throws IOException {
    Path archive = z.archive();
    Path dir = cache.resolve("unpacked").resolve(archive.getFileName() + "-" + Files.size(archive));
    Path file = dir.resolve(z.member());
    if (Files.isRegularFile(file) && Files.size(file) == z.size()) {
      return file;
    }
    Files.createDirectories(file.getParent());
    Path partial = Files.createTempFile(file.getParent(), ".unpack-", ".partial");
    try (InputStream in = z.open()) {
      Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
      Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(partial);
    }
    return file;
  }

  private Path emptyDirectory() throws IOException {
    Path dir = cache.resolve("empty-directory");
    Files.createDirectories(dir);
    return dir;
  }

  private static String octal(int mode) {
    return String.format("%03o", mode & 0777);
  }
}
