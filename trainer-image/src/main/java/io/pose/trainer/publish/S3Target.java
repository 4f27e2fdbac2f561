package io.pose.trainer.publish;

import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.S3Clients;
import io.pose.trainer.storage.StorageUri;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CopyPartResult;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Error;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Publishes a tree to {@code s3://bucket/prefix} on AWS S3 or an S3-compatible store, so that readers see a whole
 * publish or none of it.
 *
 * <p><b>What readers see.</b> The files lie at {@code <prefix>/<relative path>}, where tools that load a directory
 * (vLLM, transformers) find them, and {@code <prefix>/pose-manifest.json} ({@link S3Manifest}) lists every one with
 * its size and SHA-256. The manifest is the commit: while it exists, every file it lists is at its key with exactly
 * the listed bytes. A prefix without a manifest holds no complete publish. A reader that wants a consistent copy
 * reads the manifest, downloads the listed files, and checks that the manifest's ETag has not changed meanwhile.
 *
 * <p><b>How a publish commits.</b>
 * <ol>
 *   <li>Clean up after interrupted publishes: delete everything under {@code <prefix>/.pose-staging/} but their
 *       journals (below), and abort their multipart uploads.</li>
 *   <li>Stage: upload every file to {@code <prefix>/.pose-staging/<publish id>/<path>}, files larger than the part
 *       size as multipart uploads, each request carrying the SHA-256 the trainer computed from the local file (the
 *       store rejects bytes that do not match). Then verify every staged object: HeadObject's size and SHA-256
 *       (composite {@code <base64>-<parts>} for multipart objects) against the local file.</li>
 *   <li>Journal: write {@code <prefix>/.pose-staging/<publish id>.json} naming the new paths and those of the
 *       previous publish (and of earlier journals), so that a later publish can remove what this one leaves behind
 *       if it dies from here on.</li>
 *   <li>Delete the old manifest: from now on the final keys change, so no manifest may vouch for them.</li>
 *   <li>Promote: server-side copies from staging to the final keys (CopyObject, or UploadPartCopy with the same
 *       part boundaries for multipart objects, so no object over 5 GiB is copied in one request), then verify every
 *       final object as in step 2.</li>
 *   <li>Delete the files of earlier publishes that the new tree no longer has (read from the old manifest and the
 *       journals; objects no publish wrote are left alone).</li>
 *   <li>Write the manifest, last. Its ETag is the publish's revision.</li>
 *   <li>Delete the staging objects and the journals (best effort: step 1 of the next publish finishes it).</li>
 * </ol>
 * A failure in steps 1 to 3 leaves the final keys and the previous manifest untouched; a failure in steps 4 to 7
 * leaves no manifest. Either way the publish aborts its multipart uploads and deletes its staging objects on the way
 * out, and a publish that could not (a killed pod) is cleaned up by the next one. One publisher per prefix at a
 * time: two publishes to the same prefix at once would delete each other's staging objects. A bucket lifecycle rule
 * AbortIncompleteMultipartUpload is still advisable for uploads that no later publish sweeps.
 *
 * <p><b>Credentials</b> are read from the Secret as {@link S3Clients} describes. They need s3:ListBucket,
 * s3:GetObject, s3:PutObject, s3:DeleteObject, s3:AbortMultipartUpload and s3:ListBucketMultipartUploads on the
 * prefix. Messages never carry the Secret's values.
 */
public final class S3Target implements PublishTarget {

  private static final System.Logger LOG = System.getLogger(S3Target.class.getName());
  private static final String STAGING = ".pose-staging";
  private static final long MIB = 1L << 20;
  private static final long MIN_PART = 5 * MIB;
  private static final long MAX_PART = 5L << 30;
  private static final int MAX_PARTS = 10_000;
  private static final int DELETE_BATCH = 1000;
  private static final DateTimeFormatter ID_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  /**
   * How the target transfers.
   *
   * @param partSize files larger than this go up as multipart uploads of parts this large (S3 allows 5 MiB to
   *     5 GiB; a file that would need more than 10,000 parts gets larger parts)
   * @param concurrency requests in flight at once (parts, small files, copies)
   * @param maxAttempts attempts per request under the SDK's standard retry strategy (throttling, 5xx and network
   *     errors back off exponentially with jitter)
   */
  public record Settings(long partSize, int concurrency, int maxAttempts) {
    public Settings {
      if (partSize < MIN_PART || partSize > MAX_PART) {
        throw new IllegalArgumentException("partSize: " + partSize + " is not in [5 MiB, 5 GiB] (S3's part sizes)");
      }
      if (concurrency < 1 || concurrency > 64) {
        throw new IllegalArgumentException("concurrency: " + concurrency + " is not in [1, 64]");
      }
      if (maxAttempts < 1 || maxAttempts > 20) {
        throw new IllegalArgumentException("maxAttempts: " + maxAttempts + " is not in [1, 20]");
      }
    }

    /** 64 MiB parts (a 15 GB shard is 224 requests); 4 requests at once (Publish pods request no CPU); 5 attempts. */
    public static Settings defaults() {
      return new Settings(64 * MIB, 4, 5);
    }
  }

  private final StorageUri target;
  private final String bucket;
  private final String prefix;
  private final S3Clients clients;
  private final Settings settings;
  private final UnaryOperator<S3Client> decorator;

  public S3Target(StorageUri target, Credentials credentials) {
    this(target, credentials, Settings.defaults());
  }

  public S3Target(StorageUri target, Credentials credentials, Settings settings) {
    this(target, credentials, settings, UnaryOperator.identity());
  }

  /** @param decorator wraps the client the publish uses (tests inject failures with it) */
  S3Target(StorageUri target, Credentials credentials, Settings settings, UnaryOperator<S3Client> decorator) {
    if (target.scheme() != StorageUri.Scheme.S3) {
      throw new IllegalArgumentException("S3Target: \"" + target + "\" is not an s3:// URI");
    }
    this.target = target;
    this.bucket = target.authority();
    this.prefix = target.path();
    this.clients = new S3Clients(target, credentials, "spec.publish.credentialsSecret",
        "list, read, write and delete", IOException::new);
    this.settings = settings;
    this.decorator = decorator;
  }

  @Override
  public Published publish(Path tree, String message) throws IOException {
    List<LocalFile> files = scan(tree);
    try (S3Clients.Connection connection =
        clients.connect(Math.max(8, 2 * settings.concurrency()), settings.maxAttempts())) {
      return new Run(decorator.apply(connection.s3()), newPublishId(), files).commit(message);
    }
  }

  // ---- the local tree

  /** A file of the tree with the digests its uploads carry and its verification compares. */
  private record LocalFile(Path file, String path, long size, long partSize, byte[] sha256, List<byte[]> parts) {

    boolean multipart() {
      return !parts.isEmpty();
    }

    String sha256Hex() {
      return HexFormat.of().formatHex(sha256);
    }

    /** S3's value for a single-part object: the base64 SHA-256 of the bytes. */
    String fullChecksum() {
      return base64(sha256);
    }

    /** S3's value for a multipart object: the base64 SHA-256 of the parts' digests, a dash and the part count. */
    String compositeChecksum() {
      MessageDigest digest = sha256Digest();
      parts.forEach(digest::update);
      return base64(digest.digest()) + "-" + parts.size();
    }
  }

  private List<LocalFile> scan(Path tree) throws IOException {
    if (!Files.isDirectory(tree)) {
      throw new NoSuchFileException(tree.toString(), null, "the tree to publish is not a directory");
    }
    List<Path> paths;
    try (Stream<Path> walk = Files.walk(tree, FileVisitOption.FOLLOW_LINKS)) {
      paths = walk.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> relative(tree, p))).toList();
    }
    if (paths.isEmpty()) {
      throw new IllegalArgumentException(tree + ": nothing to publish (no regular files)");
    }
    List<LocalFile> files = new ArrayList<>();
    for (Path p : paths) {
      String path = relative(tree, p);
      if (path.equals(S3Manifest.NAME) || path.equals(STAGING) || path.startsWith(STAGING + "/")) {
        throw new IllegalArgumentException(tree + ": \"" + path + "\" is reserved for the S3 target's own objects ("
            + S3Manifest.NAME + ", " + STAGING + "/)");
      }
      files.add(hash(p, path));
    }
    return files;
  }

  private static String relative(Path tree, Path file) {
    Path rel = tree.relativize(file);
    StringBuilder s = new StringBuilder();
    for (Path element : rel) {
      s.append(s.length() == 0 ? "" : "/").append(element);
    }
    return s.toString();
  }

  /** One pass over the file: the whole file's SHA-256 and, for a multipart file, each part's. */
  private LocalFile hash(Path file, String path) throws IOException {
    long size = Files.size(file);
    // a file needing more than S3's 10,000 parts gets whole-MiB parts just large enough
    long partSize = Math.max(settings.partSize(), ceilDiv(ceilDiv(size, MAX_PARTS), MIB) * MIB);
    boolean multipart = size > partSize;
    MessageDigest whole = sha256Digest();
    MessageDigest part = sha256Digest();
    List<byte[]> parts = new ArrayList<>();
    byte[] buffer = new byte[(int) MIB];
    long total = 0;
    long inPart = 0;
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, partSize - inPart))) > 0) {
        whole.update(buffer, 0, n);
        total += n;
        if (multipart) {
          part.update(buffer, 0, n);
          inPart += n;
          if (inPart == partSize) {
            parts.add(part.digest());
            inPart = 0;
          }
        }
      }
    }
    if (multipart && inPart > 0) {
      parts.add(part.digest());
    }
    if (total != size) {
      throw new IOException(file + ": changed while it was read (" + total + " bytes read, " + size + " expected)");
    }
    return new LocalFile(file, path, size, partSize, whole.digest(), List.copyOf(parts));
  }

  // ---- keys

  private String key(String path) {
    return prefix.isEmpty() ? path : prefix + "/" + path;
  }

  private String stagingRoot() {
    return key(STAGING) + "/";
  }

  private String stagingKey(String publishId, String path) {
    return stagingRoot() + publishId + "/" + path;
  }

  private String journalKey(String publishId) {
    return stagingRoot() + publishId + ".json";
  }

  private String manifestKey() {
    return key(S3Manifest.NAME);
  }

  private String s3(String key) {
    return "s3://" + bucket + "/" + key;
  }

  private static String newPublishId() {
    byte[] random = new byte[4];
    new SecureRandom().nextBytes(random);
    return ID_TIME.format(Instant.now()) + "-" + HexFormat.of().formatHex(random);
  }

  // ---- one publish

  /** One publish: its client, its id, its open multipart uploads and where it got to. */
  private final class Run {
    private final S3Client s3;
    private final String publishId;
    private final List<LocalFile> files;
    private final ExecutorService pool;
    /** key -> upload id of the multipart uploads this publish started and has not completed */
    private final Map<String, String> openUploads = new ConcurrentHashMap<>();
    /** whether this publish may have written anything yet (before that, a failure has nothing to clean up) */
    private boolean writing;
    private boolean warnedNoChecksum;

    Run(S3Client s3, String publishId, List<LocalFile> files) {
      this.s3 = s3;
      this.publishId = publishId;
      this.files = files;
      AtomicInteger threads = new AtomicInteger();
      this.pool = Executors.newFixedThreadPool(settings.concurrency(), r -> {
        Thread t = new Thread(r, "s3-publish-" + threads.incrementAndGet());
        t.setDaemon(true);
        return t;
      });
    }

    Published commit(String message) throws IOException {
      try {
        Previous previous = sweep();
        stage();
        Set<String> paths = new TreeSet<>();
        files.forEach(f -> paths.add(f.path()));
        Set<String> earlier = new TreeSet<>(previous.paths());
        earlier.removeAll(paths);
        writeJournal(new Journal(1, publishId, List.copyOf(paths), List.copyOf(earlier)));
        if (previous.manifest()) {
          deleteKeys(List.of(manifestKey()));
        }
        promote();
        deleteKeys(earlier.stream().map(S3Target.this::key).toList());
        String etag = writeManifest(message);
        Set<String> done = new LinkedHashSet<>(previous.journals());
        done.add(journalKey(publishId));
        tidy(done);
        return new Published("s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix), etag);
      } catch (IOException | RuntimeException | Error e) {
        abandon(e);
        throw e;
      } finally {
        pool.shutdownNow();
      }
    }

    // -- step 1: what earlier publishes left

    private record Previous(boolean manifest, Set<String> paths, List<String> journals) {}

    private Previous sweep() throws IOException {
      String root = stagingRoot();
      List<String> leftovers = listKeys(root);
      Set<String> paths = new TreeSet<>();
      List<String> journals = new ArrayList<>();
      List<String> staged = new ArrayList<>();
      for (String key : leftovers) {
        String rest = key.substring(root.length());
        if (!rest.contains("/") && rest.endsWith(".json")) {
          journals.add(key);
          readJournal(key).ifPresent(j -> {
            paths.addAll(j.paths());
            paths.addAll(j.previous());
          });
        } else {
          staged.add(key);
        }
      }
      deleteKeys(staged);
      Set<String> finalKeys = new TreeSet<>();
      paths.forEach(p -> finalKeys.add(key(p)));
      abortLeftoverUploads(k -> k.startsWith(root) || finalKeys.contains(k));
      Optional<S3Manifest> manifest = readManifest();
      manifest.ifPresent(m -> m.files().forEach(e -> paths.add(e.path())));
      return new Previous(manifest.isPresent(), paths, journals);
    }

    private Optional<Journal> readJournal(String key) throws IOException {
      Optional<byte[]> bytes = read(key);
      if (bytes.isEmpty()) {
        return Optional.empty();
      }
      try {
        Journal journal = S3Manifest.json().readValue(bytes.get(), Journal.class);
        return Optional.of(new Journal(journal.schemaVersion(), journal.publishId(),
            journal.paths() == null ? List.of() : journal.paths(),
            journal.previous() == null ? List.of() : journal.previous()));
      } catch (IOException e) {
        LOG.log(System.Logger.Level.WARNING, s3(key) + ": not a publish journal, ignored: " + e.getMessage());
        return Optional.empty();
      }
    }

    private Optional<S3Manifest> readManifest() throws IOException {
      Optional<byte[]> bytes = read(manifestKey());
      return bytes.isEmpty() ? Optional.empty() : Optional.of(S3Manifest.parse(bytes.get(), s3(manifestKey())));
    }

    /** Aborts multipart uploads that interrupted publishes left; only a warning where listing them is denied. */
    private void abortLeftoverUploads(Predicate<String> leftover) throws IOException {
      String listPrefix = prefix.isEmpty() ? "" : prefix + "/";
      List<MultipartUpload> uploads = new ArrayList<>();
      try {
        String keyMarker = null;
        String uploadIdMarker = null;
        do {
          String km = keyMarker;
          String um = uploadIdMarker;
          ListMultipartUploadsResponse page = s3.listMultipartUploads(
              b -> b.bucket(bucket).prefix(listPrefix).keyMarker(km).uploadIdMarker(um));
          page.uploads().stream().filter(u -> leftover.test(u.key())).forEach(uploads::add);
          keyMarker = Boolean.TRUE.equals(page.isTruncated()) ? page.nextKeyMarker() : null;
          uploadIdMarker = Boolean.TRUE.equals(page.isTruncated()) ? page.nextUploadIdMarker() : null;
        } while (keyMarker != null);
      } catch (SdkException e) {
        if (!(e instanceof S3Exception s3e) || s3e.statusCode() != 403) {
          throw failure("listing the multipart uploads under " + s3(listPrefix), e);
        }
        LOG.log(System.Logger.Level.WARNING, target + ": may not list multipart uploads "
            + "(s3:ListBucketMultipartUploads); those of interrupted publishes stay until a lifecycle rule ends them");
        return;
      }
      for (MultipartUpload u : uploads) {
        call("aborting the multipart upload of " + s3(u.key()),
            () -> s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.key()).uploadId(u.uploadId())));
      }
    }

    // -- step 2: staging

    private void stage() throws IOException {
      writing = true;
      Map<LocalFile, CompletedPart[]> multipart = startUploads(f -> stagingKey(publishId, f.path()));
      List<Callable<Void>> tasks = new ArrayList<>();
      for (LocalFile f : files) {
        String key = stagingKey(publishId, f.path());
        if (!f.multipart()) {
          tasks.add(() -> {
            call("uploading " + f.path() + " to " + s3(key), () -> s3.putObject(b -> b.bucket(bucket).key(key)
                .contentLength(f.size()).checksumSHA256(f.fullChecksum()), RequestBody.fromFile(f.file())));
            return null;
          });
          continue;
        }
        CompletedPart[] parts = multipart.get(f);
        String uploadId = openUploads.get(key);
        for (int i = 0; i < f.parts().size(); i++) {
          int number = i + 1;
          long offset = i * f.partSize();
          long length = Math.min(f.partSize(), f.size() - offset);
          String checksum = base64(f.parts().get(i));
          tasks.add(() -> {
            try (FileRangeProvider body = new FileRangeProvider(f.file(), offset, length)) {
              String etag = call("uploading part " + number + " of " + f.path() + " to " + s3(key),
                  () -> s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId).partNumber(number)
                      .contentLength(length).checksumSHA256(checksum),
                      RequestBody.fromContentProvider(body, length, "application/octet-stream"))).eTag();
              parts[number - 1] = CompletedPart.builder().partNumber(number).eTag(etag).checksumSHA256(checksum)
                  .build();
            }
            return null;
          });
        }
      }
      runAll(tasks);
      completeUploads(multipart, f -> stagingKey(publishId, f.path()));
      for (LocalFile f : files) {
        verify(stagingKey(publishId, f.path()), f);
      }
    }

    private Map<LocalFile, CompletedPart[]> startUploads(Function<LocalFile, String> keyOf)
        throws IOException {
      Map<LocalFile, CompletedPart[]> multipart = new IdentityHashMap<>();
      for (LocalFile f : files) {
        if (f.multipart()) {
          String key = keyOf.apply(f);
          String uploadId = call("starting the multipart upload of " + s3(key), () -> s3.createMultipartUpload(
              b -> b.bucket(bucket).key(key).checksumAlgorithm(ChecksumAlgorithm.SHA256))).uploadId();
          openUploads.put(key, uploadId);
          multipart.put(f, new CompletedPart[f.parts().size()]);
        }
      }
      return multipart;
    }

    private void completeUploads(Map<LocalFile, CompletedPart[]> multipart,
        Function<LocalFile, String> keyOf) throws IOException {
      for (Map.Entry<LocalFile, CompletedPart[]> e : multipart.entrySet()) {
        String key = keyOf.apply(e.getKey());
        String uploadId = openUploads.get(key);
        call("completing the multipart upload of " + s3(key), () -> s3.completeMultipartUpload(b -> b.bucket(bucket)
            .key(key).uploadId(uploadId).multipartUpload(m -> m.parts(e.getValue()))));
        openUploads.remove(key);
      }
    }

    /** HeadObject against the local file: the size, and the SHA-256 where the store keeps one. */
    private void verify(String key, LocalFile f) throws IOException {
      HeadObjectResponse head = call("verifying " + s3(key),
          () -> s3.headObject(b -> b.bucket(bucket).key(key).checksumMode(ChecksumMode.ENABLED)));
      if (head.contentLength() == null || head.contentLength() != f.size()) {
        throw new IOException(s3(key) + ": verification failed: the store holds " + head.contentLength()
            + " bytes, " + f.file() + " has " + f.size());
      }
      String stored = head.checksumSHA256();
      if (stored == null) {
        if (!warnedNoChecksum) {
          warnedNoChecksum = true;
          LOG.log(System.Logger.Level.WARNING, target + ": the store returns no SHA-256 checksums (" + s3(key)
              + "); verified sizes only, though it checked each upload's SHA-256 as it arrived");
        }
        return;
      }
      if (!stored.equals(f.fullChecksum()) && !(f.multipart() && stored.equals(f.compositeChecksum()))) {
        throw new IOException(s3(key) + ": verification failed: the store's SHA-256 is " + stored + ", "
            + f.file() + " gives " + (f.multipart() ? f.compositeChecksum() : f.fullChecksum()));
      }
    }

    // -- steps 3 to 7: journal, promotion, manifest

    private void writeJournal(Journal journal) throws IOException {
      byte[] json;
      try {
        json = S3Manifest.json().writeValueAsBytes(journal);
      } catch (IOException e) {
        throw new IllegalStateException("a journal always serializes", e);
      }
      put(journalKey(publishId), json);
    }

    private void promote() throws IOException {
      Map<LocalFile, CompletedPart[]> multipart = startUploads(f -> key(f.path()));
      List<Callable<Void>> tasks = new ArrayList<>();
      for (LocalFile f : files) {
        String source = stagingKey(publishId, f.path());
        String key = key(f.path());
        if (!f.multipart()) {
          tasks.add(() -> {
            call("copying " + s3(source) + " to " + s3(key), () -> s3.copyObject(b -> b.sourceBucket(bucket)
                .sourceKey(source).destinationBucket(bucket).destinationKey(key)
                .checksumAlgorithm(ChecksumAlgorithm.SHA256)));
            return null;
          });
          continue;
        }
        CompletedPart[] parts = multipart.get(f);
        String uploadId = openUploads.get(key);
        for (int i = 0; i < f.parts().size(); i++) {
          int number = i + 1;
          long first = i * f.partSize();
          long last = Math.min(f.size(), first + f.partSize()) - 1;
          String checksum = base64(f.parts().get(i));
          tasks.add(() -> {
            CopyPartResult copied = call("copying part " + number + " of " + s3(source) + " to " + s3(key),
                () -> s3.uploadPartCopy(b -> b.sourceBucket(bucket).sourceKey(source).destinationBucket(bucket)
                    .destinationKey(key).uploadId(uploadId).partNumber(number)
                    .copySourceRange("bytes=" + first + "-" + last))).copyPartResult();
            if (copied.checksumSHA256() != null && !copied.checksumSHA256().equals(checksum)) {
              throw new IOException(s3(key) + ": part " + number + " copied with SHA-256 " + copied.checksumSHA256()
                  + ", " + f.file() + " gives " + checksum);
            }
            parts[number - 1] = CompletedPart.builder().partNumber(number).eTag(copied.eTag())
                .checksumSHA256(checksum).build();
            return null;
          });
        }
      }
      runAll(tasks);
      completeUploads(multipart, f -> key(f.path()));
      for (LocalFile f : files) {
        verify(key(f.path()), f);
      }
    }

    private String writeManifest(String message) throws IOException {
      List<S3Manifest.Entry> entries = files.stream()
          .map(f -> new S3Manifest.Entry(f.path(), f.size(), f.sha256Hex())).toList();
      S3Manifest manifest = new S3Manifest(S3Manifest.SCHEMA_VERSION, publishId, message,
          Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(), entries);
      return S3Clients.unquote(put(manifestKey(), manifest.toJson()));
    }

    /** Step 8, after the commit: failures only leave work for the next publish's sweep. */
    private void tidy(Collection<String> journals) {
      try {
        deleteKeys(listKeys(stagingRoot() + publishId + "/"));
        deleteKeys(List.copyOf(journals));
      } catch (IOException | RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, target + ": published, but removing the staging objects failed; "
            + "the next publish removes them: " + e.getMessage());
      }
    }

    /**
     * On failure: stop the transfers, abort this publish's multipart uploads, delete its staging objects. The journal
     * stays when it was written: the final keys may have changed, and the next publish's sweep reads it.
     */
    private void abandon(Throwable failure) {
      pool.shutdownNow();
      if (!writing) {
        return;
      }
      boolean interrupted = Thread.interrupted();
      try {
        if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
          failure.addSuppressed(new IOException("transfers still running after 60 s; not cleaning up"));
          return;
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
      for (Map.Entry<String, String> u : openUploads.entrySet()) {
        bestEffort(failure, () -> call("aborting the multipart upload of " + s3(u.getKey()),
            () -> s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.getKey()).uploadId(u.getValue()))));
      }
      bestEffort(failure, () -> {
        deleteKeys(listKeys(stagingRoot() + publishId + "/"));
        return null;
      });
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    private void bestEffort(Throwable failure, IoCall<?> cleanup) {
      try {
        cleanup.run();
      } catch (IOException | RuntimeException e) {
        failure.addSuppressed(e);
      }
    }

    // -- requests

    private List<String> listKeys(String keyPrefix) throws IOException {
      List<String> keys = new ArrayList<>();
      String token = null;
      do {
        String t = token;
        ListObjectsV2Response page = call("listing " + s3(keyPrefix),
            () -> s3.listObjectsV2(b -> b.bucket(bucket).prefix(keyPrefix).continuationToken(t)));
        page.contents().stream().map(S3Object::key).forEach(keys::add);
        token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
      } while (token != null);
      return keys;
    }

    private Optional<byte[]> read(String key) throws IOException {
      try {
        return Optional.of(s3.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray());
      } catch (NoSuchKeyException e) {
        return Optional.empty();
      } catch (SdkException e) {
        throw failure("reading " + s3(key), e);
      }
    }

    /** @return the new object's ETag */
    private String put(String key, byte[] bytes) throws IOException {
      String checksum = base64(sha256Digest().digest(bytes));
      return call("writing " + s3(key), () -> s3.putObject(b -> b.bucket(bucket).key(key)
          .contentType("application/json").checksumSHA256(checksum), RequestBody.fromBytes(bytes))).eTag();
    }

    private void deleteKeys(List<String> keys) throws IOException {
      for (int from = 0; from < keys.size(); from += DELETE_BATCH) {
        List<ObjectIdentifier> batch = keys.subList(from, Math.min(keys.size(), from + DELETE_BATCH)).stream()
            .map(k -> ObjectIdentifier.builder().key(k).build()).toList();
        DeleteObjectsResponse response = call("deleting " + batch.size() + " objects under " + s3(key("")),
            () -> s3.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(batch).quiet(true))));
        if (!response.errors().isEmpty()) {
          S3Error first = response.errors().get(0);
          String what = "deleting " + s3(first.key()) + " failed (" + first.code() + ": " + first.message() + ")"
              + (response.errors().size() > 1 ? " and " + (response.errors().size() - 1) + " more" : "");
          if (S3Clients.rejectsCredentials(first.code())) {
            throw new CredentialsException(target + ": " + what + "; " + clients.credentialsHint());
          }
          throw new IOException(target + ": " + what);
        }
      }
    }

    /** Runs the tasks on the pool; the first failure cancels the rest and is thrown. */
    private void runAll(List<Callable<Void>> tasks) throws IOException {
      List<Future<Void>> futures = new ArrayList<>();
      tasks.forEach(t -> futures.add(pool.submit(t)));
      try {
        for (Future<Void> f : futures) {
          f.get();
        }
      } catch (ExecutionException e) {
        futures.forEach(f -> f.cancel(true));
        Throwable cause = e.getCause();
        if (cause instanceof IOException io) {
          throw io;
        }
        if (cause instanceof RuntimeException re) {
          throw re;
        }
        if (cause instanceof Error error) {
          throw error;
        }
        throw new IOException(cause);
      } catch (InterruptedException e) {
        futures.forEach(f -> f.cancel(true));
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(target + ": publish interrupted");
      }
    }
  }

  /** {@code <prefix>/.pose-staging/<publish id>.json}: what a publish may have changed at the final keys. */
  private record Journal(int schemaVersion, String publishId, List<String> paths, List<String> previous) {}

  // ---- errors

  @FunctionalInterface
  private interface IoCall<T> {
    T run() throws IOException;
  }

  private <T> T call(String action, Supplier<T> request) throws IOException {
    return clients.call(action, request);
  }

  private IOException failure(String action, SdkException e) {
    return clients.failure(action, e);
  }

  // ---- bytes

  private static MessageDigest sha256Digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  /** The bytes [offset, offset + length) of a file, opened afresh for every attempt the SDK makes. */
  private static final class FileRangeProvider implements ContentStreamProvider, Closeable {
    private final Path file;
    private final long offset;
    private final long length;
    private InputStream current;

    FileRangeProvider(Path file, long offset, long length) {
      this.file = file;
      this.offset = offset;
      this.length = length;
    }

    @Override
    public synchronized InputStream newStream() {
      try {
        close();
        current = new FileRange(FileChannel.open(file, StandardOpenOption.READ), offset, offset + length);
        return current;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public synchronized void close() throws IOException {
      if (current != null) {
        current.close();
        current = null;
      }
    }
  }

  private static final class FileRange extends InputStream {
    private final FileChannel channel;
    private final long end;
    private long position;

    FileRange(FileChannel channel, long position, long end) {
      this.channel = channel;
      this.position = position;
      this.end = end;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (position >= end) {
        return -1;
      }
      if (len == 0) {
        return 0;
      }
      int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
      if (n < 0) {
        throw new EOFException("the file shrank while it was uploaded (at byte " + position + ")");
      }
      position += n;
      return n;
    }

    @Override
    public int available() {
      return (int) Math.min(Integer.MAX_VALUE, end - position);
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
