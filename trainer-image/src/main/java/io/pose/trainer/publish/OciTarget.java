package io.pose.trainer.publish;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.cloud.tools.jib.api.CacheDirectoryCreationException;
import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Credential;
import com.google.cloud.tools.jib.api.DescriptorDigest;
import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.InsecureRegistryException;
import com.google.cloud.tools.jib.api.InvalidImageReferenceException;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.RegistryAuthenticationFailedException;
import com.google.cloud.tools.jib.api.RegistryException;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.RegistryUnauthorizedException;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import com.google.cloud.tools.jib.event.EventHandlers;
import com.google.cloud.tools.jib.global.JibSystemProperties;
import com.google.cloud.tools.jib.http.FailoverHttpClient;
import com.google.cloud.tools.jib.http.ResponseException;
import com.google.cloud.tools.jib.image.json.BuildableManifestTemplate;
import com.google.cloud.tools.jib.image.json.ManifestTemplate;
import com.google.cloud.tools.jib.registry.ManifestAndDigest;
import com.google.cloud.tools.jib.registry.RegistryClient;
import com.google.cloud.tools.jib.registry.RegistryCredentialsNotSentException;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;

/**
 * Publishes a model tree to {@code oci://registry[:port]/repository[:tag]} as a KServe ModelCar image, built and
 * pushed with Jib core: no Docker engine, no daemon socket, nothing privileged in the stage pod.
 *
 * <p><b>Image layout.</b> KServe runs a ModelCar image as a sidecar sharing the pod's process namespace, with the
 * command {@code sh -c "ln -s /proc/$$/root/models /mnt/models && sleep infinity"}; the serving runtime then reads the
 * model through {@code /mnt/models}. So the image holds the tree under {@code /models} (tree path {@code a/b} is
 * {@code /models/a/b}) on top of a base image that has {@code sh}, {@code ln} and {@code sleep}: {@value
 * #DEFAULT_BASE_IMAGE} by default, any other image reference (a mirror, or one pinned by digest, which makes the
 * digest reproducible as long as the tree is the same), or {@value #SCRATCH} for Jib's empty base: an image no
 * ModelCar sidecar can run, for tests, air-gapped registries and readers that only unpack the layers. Files are
 * 0644 and directories 0755 owned by root, so KServe's {@code uidModelcar} (any uid) can read them; every entry has
 * the same fixed modification time and the image the creation time 1970-01-01, so the same tree gives the same
 * layer digests. The image is single-platform (Jib's linux/amd64): the base image is chosen for that platform.
 * The manifest is OCI ({@code application/vnd.oci.image.manifest.v1+json}, gzip layers); the publish message
 * becomes the label {@code org.opencontainers.image.description}.
 *
 * <p><b>Layers.</b> Each large file ({@code *.safetensors} shards and any file of at least {@value
 * #LARGE_FILE_BYTES} bytes) is a layer of its own, in path order, and all other files share one last layer. A layer
 * is content-addressed, so re-publishing after one shard changed uploads that shard and the small-files layer only:
 * the registry already has the others (Jib checks each blob before it uploads it).
 *
 * <p><b>Integrity.</b> Jib uploads every blob (layers, then the config) and pushes the manifest by tag last, after all
 * of them are in the registry: the tag appears (or moves, when re-publishing) only at the very end, so an interrupted
 * publish leaves no tag and a previously published tag unchanged. Blobs left behind by an interrupted publish are
 * unreferenced, for the registry's garbage collection. After the push the manifest is fetched back by
 * the tag, its digest must be the one Jib pushed, and each blob it names must be in the repository with its size.
 *
 * <p><b>Credentials.</b> The Secret's key {@value #DOCKER_CONFIG_KEY} (the {@code kubernetes.io/dockerconfigjson}
 * Secret type: {@code auths.<registry>.auth} = base64 {@code user:password}, or {@code username} and {@code
 * password}, or {@code identitytoken}) gives the credential for the target registry and, when it has an entry for
 * it, for the base image's registry. Without a Secret the push is anonymous. Rejected credentials (HTTP 401/403)
 * are a {@link CredentialsException} naming the registry and the Secret, never a value.
 *
 * <p><b>Plain HTTP.</b> Registries on loopback ({@code localhost}, {@code 127.0.0.0/8}) may use HTTP or an unverified
 * certificate, credentials included; any other registry must use verified HTTPS unless the target is built with
 * {@code insecure}. Jib reads the "send credentials over HTTP" switch from the system property
 * {@value JibSystemProperties#SEND_CREDENTIALS_OVER_HTTP}, so insecure publishes of this class run one at a time.
 *
 * <p><b>Disk.</b> Jib writes the compressed layers to a cache before uploading: the scratch directory needs about the
 * model's size free; it is deleted after the publish.
 */
public final class OciTarget implements PublishTarget {

  /** A base image with the {@code sh}, {@code ln} and {@code sleep} the ModelCar sidecar runs. */
  public static final String DEFAULT_BASE_IMAGE = "busybox:1.36";
  /** Jib's empty base image: no shell, so only for tests, air-gapped use and readers that unpack the layers. */
  public static final String SCRATCH = "scratch";
  /** The Secret key holding the Docker config JSON ({@code kubernetes.io/dockerconfigjson} Secrets). */
  public static final String DOCKER_CONFIG_KEY = ".dockerconfigjson";
  /**
   * Files from this size on get a layer of their own, whatever their name: a large tokenizer.json (tens of MB for
   * big vocabularies) is not uploaded again with every README change, while configs and results stay together.
   */
  public static final long LARGE_FILE_BYTES = 16L << 20;
  /** Where the model is in the image: KServe's ModelCar convention. */
  public static final String MODEL_DIRECTORY = "/models";

  static final FilePermissions FILE_PERMISSIONS = FilePermissions.fromOctalString("644");
  static final FilePermissions DIRECTORY_PERMISSIONS = FilePermissions.fromOctalString("755");
  /** Jib's own default (one second after the epoch): a fixed time that tar readers do not treat as "unset". */
  static final Instant MODIFICATION_TIME = FileEntriesLayer.DEFAULT_MODIFICATION_TIME;

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Guards Jib's process-wide "send credentials over HTTP" property while a build reads it. */
  private static final Object HTTP_CREDENTIALS_PROPERTY = new Object();

  private final StorageUri target;
  private final Credentials credentials;
  private final String baseImage;
  private final boolean insecure;
  private final Path scratchDirectory;

  /** A target on {@value #DEFAULT_BASE_IMAGE}; plain HTTP only for loopback registries; scratch space in the temp dir. */
  public OciTarget(StorageUri target, Credentials credentials) {
    this(target, credentials, DEFAULT_BASE_IMAGE, false, null);
  }

  /**
   * @param target an {@code oci://} URI (the tag defaults to latest)
   * @param credentials the Secret with {@value #DOCKER_CONFIG_KEY}, or {@link Credentials#none()}
   * @param baseImage an image reference, or {@value #SCRATCH}
   * @param insecure whether a registry that is not on loopback may use plain HTTP or an unverified certificate
   * @param scratchDirectory where Jib's layer cache goes (a temporary directory inside it), or null for the temp dir
   */
  public OciTarget(StorageUri target, Credentials credentials, String baseImage, boolean insecure,
      Path scratchDirectory) {
    if (target.scheme() != StorageUri.Scheme.OCI) {
      throw new IllegalArgumentException("OciTarget: \"" + target + "\" is not an oci:// URI");
    }
    if (baseImage == null || baseImage.isBlank()) {
      throw new IllegalArgumentException("OciTarget: the base image is required (\"" + SCRATCH + "\" for none)");
    }
    if (!SCRATCH.equals(baseImage)) {
      parseImage(baseImage, "base image");
    }
    this.target = target;
    this.credentials = Objects.requireNonNull(credentials, "credentials (Credentials.none() for none)");
    this.baseImage = baseImage;
    this.insecure = insecure || isLoopback(target.authority());
    this.scratchDirectory = scratchDirectory;
  }

  @Override
  public Published publish(Path tree, String message) throws IOException {
    String uri = StorageUri.Scheme.OCI.prefix() + target.authority() + "/" + target.path() + ":" + target.reference();
    ImageReference targetImage = ImageReference.of(target.authority(), target.path(), target.reference());
    Map<String, Credential> auths = dockerConfig();
    Optional<Credential> targetCredential = credentialFor(auths, target.authority());

    JibContainerBuilder image = baseImageBuilder(auths)
        .setFileEntriesLayers(layers(tree))
        .setFormat(ImageFormat.OCI)
        .setCreationTime(Instant.EPOCH);
    if (message != null && !message.isBlank()) {
      image.addLabel("org.opencontainers.image.description", message);
    }
    RegistryImage to = RegistryImage.named(targetImage);
    targetCredential.ifPresent(c -> to.addCredential(c.getUsername(), c.getPassword()));

    Path cache = Files.createTempDirectory(
        scratchDirectory == null ? Path.of(System.getProperty("java.io.tmpdir")) : scratchDirectory, "oci-publish-");
    try {
      Containerizer containerizer = Containerizer.to(to)
          .setToolName("pose-trainer")
          .setAllowInsecureRegistries(insecure)
          .setBaseImageLayersCache(cache.resolve("base"))
          .setApplicationLayersCache(cache.resolve("layers"));
      JibContainer pushed = containerize(image, containerizer, uri);
      verify(targetImage, targetCredential, pushed.getDigest(), uri);
      return new Published(uri, pushed.getDigest().toString());
    } catch (RegistryException e) {
      throw translate(e, uri);
    } catch (IOException e) {
      throw io(uri, e);
    } finally {
      deleteRecursively(cache);
    }
  }

  /**
   * The image's layers: one per large file, in path order, then one with every other file. Each carries its files'
   * parent directories, so every layer unpacks on its own.
   */
  static List<FileEntriesLayer> layers(Path tree) throws IOException {
    if (!Files.isDirectory(tree)) {
      throw new IOException("publish: the tree " + tree + " is not a directory");
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(tree)) {
      files = walk.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> unixPath(tree, p))).toList();
    }
    if (files.isEmpty()) {
      throw new IOException("publish: the tree " + tree + " has no files");
    }
    List<FileEntriesLayer> layers = new ArrayList<>();
    List<Path> small = new ArrayList<>();
    for (Path file : files) {
      if (isLarge(file)) {
        layers.add(layer(unixPath(tree, file), tree, List.of(file)));
      } else {
        small.add(file);
      }
    }
    if (!small.isEmpty()) {
      layers.add(layer("small files", tree, small));
    }
    return layers;
  }

  private static boolean isLarge(Path file) throws IOException {
    return file.getFileName().toString().endsWith(".safetensors") || Files.size(file) >= LARGE_FILE_BYTES;
  }

  private static FileEntriesLayer layer(String name, Path tree, List<Path> files) {
    AbsoluteUnixPath root = AbsoluteUnixPath.get(MODEL_DIRECTORY);
    FileEntriesLayer.Builder layer = FileEntriesLayer.builder().setName(name);
    // Directories explicitly, so their mode and time are ours rather than whatever tar readers assume.
    TreeSet<String> directories = new TreeSet<>();
    for (Path file : files) {
      String relative = unixPath(tree, file);
      for (int slash = relative.indexOf('/'); slash >= 0; slash = relative.indexOf('/', slash + 1)) {
        directories.add(relative.substring(0, slash));
      }
    }
    layer.addEntry(tree, root, DIRECTORY_PERMISSIONS, MODIFICATION_TIME);
    for (String directory : directories) {
      layer.addEntry(tree.resolve(directory), root.resolve(directory), DIRECTORY_PERMISSIONS, MODIFICATION_TIME);
    }
    for (Path file : files) {
      layer.addEntry(file, root.resolve(unixPath(tree, file)), FILE_PERMISSIONS, MODIFICATION_TIME);
    }
    return layer.build();
  }

  private static String unixPath(Path tree, Path file) {
    return tree.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
  }

  private JibContainerBuilder baseImageBuilder(Map<String, Credential> auths) {
    if (SCRATCH.equals(baseImage)) {
      return Jib.fromScratch();
    }
    ImageReference reference = parseImage(baseImage, "base image");
    RegistryImage base = RegistryImage.named(reference);
    credentialFor(auths, reference.getRegistry()).ifPresent(c -> base.addCredential(c.getUsername(), c.getPassword()));
    return Jib.from(base);
  }

  private JibContainer containerize(JibContainerBuilder image, Containerizer containerizer, String uri)
      throws IOException, RegistryException {
    synchronized (HTTP_CREDENTIALS_PROPERTY) {
      String property = JibSystemProperties.SEND_CREDENTIALS_OVER_HTTP;
      String previous = System.getProperty(property);
      System.setProperty(property, Boolean.toString(insecure));
      try {
        return image.containerize(containerizer);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(uri + ": publish interrupted");
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof RegistryException registry) {
          throw registry;
        }
        if (cause instanceof IOException io) {
          throw io(uri, io);
        }
        if (cause instanceof RuntimeException runtime) {
          throw runtime;
        }
        if (cause instanceof Error error) {
          throw error;
        }
        throw new IOException(uri + ": publish failed: " + cause, cause);
      } catch (IOException e) {
        throw io(uri, e);
      } catch (CacheDirectoryCreationException e) {
        throw new IOException(uri + ": cannot create Jib's layer cache: " + e.getMessage(), e);
      } finally {
        if (previous == null) {
          System.clearProperty(property);
        } else {
          System.setProperty(property, previous);
        }
      }
    }
  }

  /** Fetches the manifest back by tag: the registry must serve what Jib pushed, with every blob it names. */
  private void verify(ImageReference image, Optional<Credential> credential, DescriptorDigest pushed, String uri)
      throws IOException, RegistryException {
    FailoverHttpClient http = new FailoverHttpClient(insecure, insecure, event -> {});
    try {
      RegistryClient client = RegistryClient.factory(EventHandlers.NONE, image.getRegistry(), image.getRepository(), http)
          .setCredential(credential.orElse(null))
          .setUserAgent("pose-trainer")
          .newRegistryClient();
      if (!client.doPullBearerAuth() && credential.isPresent()) {
        client.configureBasicAuth();
      }
      ManifestAndDigest<ManifestTemplate> fetched = client.pullManifest(target.reference());
      if (!fetched.getDigest().equals(pushed)) {
        throw new IOException(uri + ": the tag points to " + fetched.getDigest() + " after the push, not to the pushed "
            + pushed + " (another publish to the same tag?)");
      }
      if (!(fetched.getManifest() instanceof BuildableManifestTemplate manifest)) {
        throw new IOException(uri + ": the registry serves a " + fetched.getManifest().getClass().getSimpleName()
            + " for the tag, not the image manifest that was pushed");
      }
      List<BuildableManifestTemplate.ContentDescriptorTemplate> blobs = new ArrayList<>(manifest.getLayers());
      blobs.add(manifest.getContainerConfiguration());
      for (BuildableManifestTemplate.ContentDescriptorTemplate blob : blobs) {
        long size = client.checkBlob(blob.getDigest())
            .orElseThrow(() -> new IOException(uri + ": the manifest names the blob " + blob.getDigest()
                + ", which the registry does not have"))
            .getSize();
        // Registries may answer a HEAD without a length (-1); a length they do give must match.
        if (size >= 0 && size != blob.getSize()) {
          throw new IOException(uri + ": the blob " + blob.getDigest() + " has " + size + " bytes in the registry, "
              + "the manifest says " + blob.getSize());
        }
      }
    } finally {
      http.shutDown();
    }
  }

  /** Rejected credentials as {@link CredentialsException} (thrown); anything else as the IOException to throw. */
  private IOException translate(RegistryException e, String uri) {
    String secret = credentials.secret() == null ? "no credentials Secret (anonymous)"
        : "the credentials in Secret \"" + credentials.secret() + "\"";
    if (e instanceof RegistryUnauthorizedException denied) {
      String registry = denied.getImageReference();
      throw new CredentialsException(uri + ": the registry denied access to " + registry + " (HTTP 401/403) with "
          + secret + hint(registry), e);
    }
    if (e instanceof RegistryAuthenticationFailedException failed) {
      throw new CredentialsException(uri + ": the registry's token service rejected " + secret + " for "
          + target.authority() + ": " + failed.getMessage(), e);
    }
    if (e instanceof RegistryCredentialsNotSentException) {
      throw new CredentialsException(uri + ": " + target.authority() + " uses plain HTTP, and credentials are sent "
          + "over plain HTTP only to loopback registries or insecure targets", e);
    }
    if (e instanceof InsecureRegistryException) {
      return new IOException(uri + ": " + target.authority() + " has no verifiable TLS certificate (or speaks plain "
          + "HTTP); only loopback registries and insecure targets may", e);
    }
    return new IOException(uri + ": the registry failed: " + e.getMessage(), e);
  }

  /** What the Secret lacks when the denied registry has no entry in it. */
  private String hint(String deniedImage) {
    if (credentials.secret() == null) {
      return "; set a Secret with the key " + DOCKER_CONFIG_KEY;
    }
    String registry = deniedImage.substring(0, Math.max(deniedImage.indexOf('/'), 0));
    return credentialFor(dockerConfig(), registry).isPresent() ? ""
        : "; the Secret's " + DOCKER_CONFIG_KEY + " has no auths entry for " + registry;
  }

  private static IOException io(String uri, IOException e) {
    if (e.getMessage() != null && e.getMessage().startsWith(uri + ": ")) {
      return e; // ours, with the context already
    }
    if (e instanceof ConnectException || e instanceof UnknownHostException || e instanceof NoRouteToHostException
        || e instanceof SocketTimeoutException) {
      return new IOException(uri + ": cannot reach the registry (" + e + ")", e);
    }
    if (e instanceof ResponseException response) {
      return new IOException(uri + ": the registry answered HTTP " + response.getStatusCode() + " ("
          + e.getMessage() + ")", e);
    }
    return new IOException(uri + ": publish failed: " + e.getMessage(), e);
  }

  // ---- .dockerconfigjson ----

  /** The Secret's Docker config as credentials by normalized registry host; empty without a Secret. */
  private Map<String, Credential> dockerConfig() {
    if (credentials.secret() == null) {
      return Map.of();
    }
    String json = credentials.require(DOCKER_CONFIG_KEY, "pushing to " + target);
    String where = "Secret \"" + credentials.secret() + "\" key " + DOCKER_CONFIG_KEY;
    JsonNode auths;
    try {
      auths = JSON.readTree(json).path("auths");
    } catch (JsonProcessingException e) {
      // Jackson's message quotes the input: name the position only.
      throw new CredentialsException(where + ": not JSON (at line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + ")");
    }
    if (!auths.isObject()) {
      throw new CredentialsException(where + ": no \"auths\" object (Docker config JSON: "
          + "{\"auths\": {\"registry\": {\"auth\": \"base64(user:password)\"}}})");
    }
    Map<String, Credential> byRegistry = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      credential(entry.getValue(), where + ": auths.\"" + entry.getKey() + "\"")
          .ifPresent(c -> byRegistry.put(registryHost(entry.getKey()), c));
    }
    return byRegistry;
  }

  private static Optional<Credential> credential(JsonNode entry, String where) {
    String token = entry.path("identitytoken").asText("");
    if (!token.isEmpty()) {
      // Jib's marker for an OAuth2 refresh token, as docker login stores it for token registries
      return Optional.of(Credential.from("<token>", token));
    }
    String auth = entry.path("auth").asText("");
    if (!auth.isEmpty()) {
      String decoded;
      try {
        decoded = new String(Base64.getDecoder().decode(auth.strip()), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw new CredentialsException(where + ".auth: not base64 of user:password");
      }
      int colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new CredentialsException(where + ".auth: the decoded value is not user:password (no colon)");
      }
      return Optional.of(Credential.from(decoded.substring(0, colon), decoded.substring(colon + 1)));
    }
    String user = entry.path("username").asText("");
    if (!user.isEmpty()) {
      return Optional.of(Credential.from(user, entry.path("password").asText("")));
    }
    return Optional.empty();
  }

  private static Optional<Credential> credentialFor(Map<String, Credential> auths, String registry) {
    return Optional.ofNullable(auths.get(registryHost(registry)));
  }

  /** Docker config keys may be URLs ({@code https://index.docker.io/v1/}); Docker Hub has several names. */
  static String registryHost(String key) {
    String host = key.strip().toLowerCase(Locale.ROOT).replaceFirst("^[a-z]+://", "");
    int slash = host.indexOf('/');
    host = slash >= 0 ? host.substring(0, slash) : host;
    return switch (host) {
      case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com" -> "docker.io";
      default -> host;
    };
  }

  static boolean isLoopback(String authority) {
    String host = authority.replaceFirst(":[0-9]+$", "");
    return host.equals("localhost") || host.matches("127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}");
  }

  private static ImageReference parseImage(String image, String what) {
    try {
      return ImageReference.parse(image);
    } catch (InvalidImageReferenceException e) {
      throw new IllegalArgumentException("OciTarget: " + what + " \"" + image + "\" is not an image reference "
          + "(registry/repository[:tag][@sha256:digest])", e);
    }
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException ignored) {
      // a leftover cache in the scratch directory is harmless; the publish result is what matters
    }
  }

  @Override
  public String toString() {
    return "OciTarget[" + target + ", base " + baseImage + (insecure ? ", insecure" : "") + ", " + credentials + "]";
  }
}
