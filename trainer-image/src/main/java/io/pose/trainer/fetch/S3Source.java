package io.pose.trainer.fetch;

import io.pose.trainer.publish.S3Manifest;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.S3Clients;
import io.pose.trainer.storage.StorageUri;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;

/**
 * Reads a model or a dataset from {@code s3://bucket/prefix} on AWS S3 or an S3-compatible store.
 *
 * <p><b>What it lists.</b> One of two shapes, decided in this order:
 * <ol>
 *   <li>A single file: an object whose key is the prefix itself ({@code s3://bucket/data/train.jsonl}). Its path is
 *       the key's last segment ({@code train.jsonl}). An exact key wins over objects under {@code <prefix>/}.</li>
 *   <li>A directory: the objects under {@code <prefix>/} (the whole bucket for {@code s3://bucket}), paths relative
 *       to it. Keys ending in '/' (folder markers) and everything under {@code <prefix>/.pose-staging/} (an S3
 *       publish in progress) are skipped. When {@code <prefix>/pose-manifest.json} ({@link S3Manifest}, written by
 *       the S3 publish target) is there, the listing is exactly the files the manifest names, with its sizes and
 *       SHA-256 digests, and the manifest itself is not listed; objects no publish wrote are left out. A file it
 *       names must be there with its size, or the listing fails (an IOException: the prefix changed meanwhile, list
 *       again). Without a manifest, every object is listed.</li>
 * </ol>
 * Neither (no such object, nothing under the prefix) is {@link SourceNotFoundException}, as is a missing bucket. A
 * key that is no plain relative path (an empty, "." or ".." segment) fails the listing rather than being skipped.
 *
 * <p><b>Revision.</b> With a manifest, its ETag: the publish's revision, as the target reported it. Otherwise the
 * first 32 hex digits of the SHA-256 of the sorted lines {@code key TAB size TAB ETag}: the same objects give the
 * same revision, and a changed, added or removed object a new one.
 *
 * <p><b>Verification.</b> Every entry carries its object's ETag, and every download asks for it (If-Match): an
 * object that changed since the listing fails the download (the source has a new revision; list it again) instead of
 * mixing two versions. The size is always checked. The SHA-256 comes from the manifest or, without one, from the
 * object's stored full-object SHA-256 checksum (HeadObject in checksum mode; a composite checksum of a multipart
 * upload is a digest of the parts' digests, not comparable with the file's, so such entries have none). Without a
 * SHA-256, a single-part object's ETag is checked as the MD5 of its bytes, unless the object is encrypted with
 * SSE-KMS or SSE-C (then the ETag is no MD5); a multipart ETag ({@code <hex>-<parts>}) is not checked.
 *
 * <p><b>Transfers</b> stream to the partial file, never holding a file in memory. A partial file's bytes are hashed
 * first and the rest requested from where they end ({@code Range: bytes=<length>-}); a body that breaks off is
 * resumed the same way, the SDK's standard retry strategy covers each request. One instance serves concurrent
 * downloads; {@link #close()} releases its client. A download on an instance that has not listed (a new process
 * resuming with a saved listing) tells a single file from a directory as the listing does.
 *
 * <p><b>Credentials</b> are read from the Secret as {@link S3Clients} describes; they need s3:ListBucket and
 * s3:GetObject on the prefix.
 */
public final class S3Source implements Source, Closeable {

  private static final System.Logger LOG = System.getLogger(S3Source.class.getName());
  private static final String STAGING = ".pose-staging/";
  private static final int BUFFER = 1 << 20;
  private static final int REVISION_HEX = 32;
  /** A manifest is read into memory: ~100 bytes a file, so this is a million files. */
  private static final long MAX_MANIFEST = 128L << 20;
  private static final Pattern MD5_ETAG = Pattern.compile("[0-9a-f]{32}");

  /**
   * How the source transfers.
   *
   * @param maxConnections HTTP connections at most: the Fetcher's downloads in flight plus the listing's
   *     HeadObject requests (up to 8 at once)
   * @param maxAttempts attempts per request under the SDK's standard retry strategy, and attempts in a row that
   *     bring no new byte when a body breaks off
   */
  public record Settings(int maxConnections, int maxAttempts) {
    public Settings {
      if (maxConnections < 1 || maxConnections > 256) {
        throw new IllegalArgumentException("maxConnections: " + maxConnections + " is not in [1, 256]");
      }
      if (maxAttempts < 1 || maxAttempts > 20) {
        throw new IllegalArgumentException("maxAttempts: " + maxAttempts + " is not in [1, 20]");
      }
    }

    /** 16 connections (a Fetcher downloads a handful of shards at once); 5 attempts. */
    public static Settings defaults() {
      return new Settings(16, 5);
    }
  }

  private final StorageUri source;
  private final String bucket;
  private final String prefix;
  private final Settings settings;
  private final S3Clients clients;
  private final UnaryOperator<S3Client> decorator;
  private S3Clients.Connection connection;
  private S3Client s3;
  /** Whether the prefix names one object; known after {@link #list()} or the first download. */
  private volatile Boolean singleObject;

  public S3Source(StorageUri source, Credentials credentials) {
    this(source, credentials, Settings.defaults());
  }

  public S3Source(StorageUri source, Credentials credentials, Settings settings) {
    this(source, credentials, settings, UnaryOperator.identity());
  }

  /** @param decorator wraps the client the source uses (tests watch and break requests with it) */
  S3Source(StorageUri source, Credentials credentials, Settings settings, UnaryOperator<S3Client> decorator) {
    if (source.scheme() != StorageUri.Scheme.S3) {
      throw new IllegalArgumentException("S3Source: \"" + source + "\" is not an s3:// URI");
    }
    this.source = source;
    this.bucket = source.authority();
    this.prefix = source.path();
    this.settings = settings;
    this.clients = new S3Clients(source, credentials, "the source's credentialsSecret", "list and read",
        SourceNotFoundException::new);
    this.decorator = decorator;
  }

  // ---- listing

  @Override
  public Listing list() throws IOException {
    S3Client s3 = client();
    S3Exception headDenied = null;
    if (!prefix.isEmpty()) {
      try {
        HeadObjectResponse head = s3.headObject(b -> b.bucket(bucket).key(prefix).checksumMode(ChecksumMode.ENABLED));
        singleObject = true;
        Listed object = new Listed(prefix, head.contentLength(), S3Clients.unquote(head.eTag()));
        return new Listing(digest(List.of(object)), List.of(new Entry(prefix.substring(prefix.lastIndexOf('/') + 1),
            object.size(), fullSha256(head.checksumSHA256(), head.checksumType()), object.etag())));
      } catch (S3Exception e) {
        if (e.statusCode() == 403) {
          // without s3:ListBucket a missing key answers 403 too: the listing decides
          headDenied = e;
        } else if (e.statusCode() != 404) {
          // (a HEAD's 404 has no body to say whether the key or the bucket is missing: the listing tells)
          throw clients.failure("reading " + clients.s3(prefix), e);
        }
      } catch (SdkException e) {
        throw clients.failure("reading " + clients.s3(prefix), e);
      }
    }
    singleObject = false;
    return listDirectory(s3, headDenied);
  }

  /** Everything under {@code <prefix>/}, or the manifest's files. */
  private Listing listDirectory(S3Client s3, S3Exception headDenied) throws IOException {
    String dir = directory();
    List<S3Object> objects = new ArrayList<>();
    S3Object manifest = null;
    for (S3Object o : listAll(s3, dir)) {
      String rel = o.key().substring(dir.length());
      if (o.key().endsWith("/") || rel.startsWith(STAGING)) {
        continue;
      }
      if (rel.equals(S3Manifest.NAME)) {
        manifest = o;
      } else {
        objects.add(o);
      }
    }
    if (manifest != null) {
      return fromManifest(s3, listed(manifest), objects.stream().map(S3Source::listed).toList());
    }
    if (objects.isEmpty()) {
      if (headDenied != null) {
        throw clients.failure("reading " + clients.s3(prefix), headDenied);
      }
      throw new SourceNotFoundException(source + ": no object " + (prefix.isEmpty() ? "" : clients.s3(prefix)
          + " and none ") + "under " + clients.s3(dir) + " (folder markers and " + STAGING + " do not count)");
    }
    // a store that reports checksum algorithms in listings spares a HeadObject for every object without a SHA-256
    boolean reportsChecksums = objects.stream().anyMatch(o -> !o.checksumAlgorithm().isEmpty());
    objects.sort(Comparator.comparing(S3Object::key));
    List<Callable<Entry>> entries = new ArrayList<>();
    for (S3Object o : objects) {
      String path = relative(o.key());
      Listed object = listed(o);
      boolean mayHaveSha256 = !reportsChecksums
          || (o.checksumAlgorithm().contains(ChecksumAlgorithm.SHA256) && o.checksumType() != ChecksumType.COMPOSITE);
      entries.add(() -> new Entry(path, object.size(), mayHaveSha256 ? storedSha256(s3, object) : null,
          object.etag()));
    }
    return new Listing(digest(objects.stream().map(S3Source::listed).toList()), runAll(entries));
  }

  /** The manifest's files, each matched with its object; the manifest's ETag is the revision. */
  private Listing fromManifest(S3Client s3, Listed manifest, List<Listed> objects) throws IOException {
    if (manifest.size() > MAX_MANIFEST) {
      throw new IOException(source + ": " + clients.s3(manifest.key()) + " has " + manifest.size()
          + " bytes, more than a manifest's " + MAX_MANIFEST + "; it is no pose manifest");
    }
    byte[] json = ifUnchanged(manifest, () -> s3.getObjectAsBytes(b -> b.bucket(bucket).key(manifest.key())
        .ifMatch(quote(manifest.etag()))).asByteArray());
    S3Manifest parsed = S3Manifest.parse(json, clients.s3(manifest.key()));
    Map<String, Listed> byKey = new HashMap<>();
    objects.forEach(o -> byKey.put(o.key(), o));
    List<Entry> entries = new ArrayList<>();
    for (S3Manifest.Entry f : parsed.files()) {
      Listed o = byKey.get(key(checkedPath(f.path(), manifest.key())));
      if (o == null || o.size() != f.size()) {
        // a publish deletes the manifest before it touches a listed key: this prefix was changed by hand, or a
        // publish ran between the listing and the manifest's read
        throw new IOException(source + ": " + clients.s3(manifest.key()) + " lists " + f.path() + " with "
            + f.size() + " bytes, but " + (o == null ? "there is no object " + clients.s3(key(f.path()))
            : clients.s3(o.key()) + " has " + o.size()) + "; list the source again");
      }
      entries.add(new Entry(f.path(), f.size(), f.sha256(), o.etag()));
    }
    return new Listing(manifest.etag(), List.copyOf(entries));
  }

  /** The object's stored full-object SHA-256 as hex, or null. */
  private String storedSha256(S3Client s3, Listed o) throws IOException {
    HeadObjectResponse head = ifUnchanged(o, () -> s3.headObject(b -> b.bucket(bucket).key(o.key())
        .checksumMode(ChecksumMode.ENABLED).ifMatch(quote(o.etag()))));
    return fullSha256(head.checksumSHA256(), head.checksumType());
  }

  private static String fullSha256(String checksum, ChecksumType type) {
    if (checksum == null || type == ChecksumType.COMPOSITE || checksum.contains("-")) {
      return null;
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(checksum);
    } catch (IllegalArgumentException e) {
      return null;
    }
    return bytes.length == 32 ? HexFormat.of().formatHex(bytes) : null;
  }

  private List<S3Object> listAll(S3Client s3, String keyPrefix) throws IOException {
    List<S3Object> objects = new ArrayList<>();
    String token = null;
    do {
      String t = token;
      ListObjectsV2Response page = clients.call("listing " + clients.s3(keyPrefix),
          () -> s3.listObjectsV2(b -> b.bucket(bucket).prefix(keyPrefix).continuationToken(t)));
      objects.addAll(page.contents());
      token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
    } while (token != null);
    return objects;
  }

  /** An object as listed: what an If-Match request and the revision refer to. */
  private record Listed(String key, long size, String etag) {}

  private static Listed listed(S3Object o) {
    return new Listed(o.key(), o.size(), S3Clients.unquote(o.eTag()));
  }

  private static String digest(List<Listed> objects) {
    MessageDigest digest = digest("SHA-256");
    objects.stream().sorted(Comparator.comparing(Listed::key)).forEach(o -> digest.update(
        (o.key() + "\t" + o.size() + "\t" + o.etag() + "\n").getBytes(StandardCharsets.UTF_8)));
    return HexFormat.of().formatHex(digest.digest()).substring(0, REVISION_HEX);
  }

  // ---- downloading

  @Override
  public void download(Entry entry, Path partial) throws IOException {
    S3Client s3 = client();
    String key = keyOf(s3, entry);
    Checks checks = new Checks(entry);
    try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      long have = out.size();
      if (have > entry.size()) {
        throw mismatch(partial, clients.s3(key) + ": the partial file " + partial + " holds " + have
            + " bytes, more than the object's " + entry.size());
      }
      checks.hash(out, have);
      int stalled = 0;
      while (have < entry.size()) {
        long before = have;
        try {
          have = fetch(s3, key, entry, partial, out, have, checks);
        } catch (BodyBroke e) {
          have = e.have;
          stalled = have > before ? 0 : stalled + 1;
          if (stalled >= settings.maxAttempts()) {
            throw new IOException(source + ": downloading " + clients.s3(key) + " broke off at byte " + have
                + " of " + entry.size() + ", " + stalled + " times in a row without progress", e.getCause());
          }
          LOG.log(System.Logger.Level.INFO, clients.s3(key) + ": the download broke off at byte " + have + " of "
              + entry.size() + " (" + e.getCause().getMessage() + "); resuming from there");
        }
      }
      out.force(true);
      if (checks.md5 != null && checks.etagIsMd5 == null) {
        // nothing was fetched (the partial file was complete): whether the ETag is an MD5 depends on the encryption
        checks.etagIsMd5 = etagIsMd5(ifUnchanged(new Listed(key, entry.size(), entry.etag()),
            () -> s3.headObject(b -> b.bucket(bucket).key(key).ifMatch(quote(entry.etag())))));
      }
      checks.verify(partial, key);
    }
  }

  /** The body broke off after {@code have} bytes were written. */
  private static final class BodyBroke extends Exception {
    final long have;

    BodyBroke(long have, IOException cause) {
      super(cause);
      this.have = have;
    }
  }

  /**
   * One GetObject from byte {@code have} on, appended to the partial file.
   *
   * @return the partial file's length afterwards: the entry's size
   * @throws BodyBroke when reading the body failed or it ended early: resumed from where it broke
   */
  private long fetch(S3Client s3, String key, Entry entry, Path partial, FileChannel out, long have, Checks checks)
      throws IOException, BodyBroke {
    GetObjectRequest request = GetObjectRequest.builder().bucket(bucket).key(key)
        .ifMatch(entry.etag() == null ? null : quote(entry.etag()))
        .range(have > 0 ? "bytes=" + have + "-" : null)
        .build();
    ResponseInputStream<GetObjectResponse> in = ifUnchanged(new Listed(key, entry.size(), entry.etag()),
        () -> s3.getObject(request));
    boolean drained = false;
    try {
      GetObjectResponse response = in.response();
      checks.etagIsMd5 = etagIsMd5(response);
      long from = have;
      if (have > 0 && response.contentRange() == null) {
        // a store that ignores Range sends the whole object: skip what the partial file has
        in.skipNBytes(have);
        from = 0;
      }
      long expected = entry.size() - from;
      if (response.contentLength() != null && response.contentLength() != expected) {
        throw mismatch(partial, clients.s3(key) + ": the store sends " + response.contentLength() + " bytes from byte "
            + from + ", the listing's size " + entry.size() + " leaves " + expected);
      }
      byte[] buffer = new byte[BUFFER];
      while (true) {
        int n;
        try {
          n = in.read(buffer);
        } catch (InterruptedIOException e) {
          throw e;
        } catch (IOException e) {
          throw new BodyBroke(have, e);
        }
        if (n < 0) {
          drained = true;
          if (have < entry.size()) {
            throw new BodyBroke(have, new EOFException("the body ended at byte " + have));
          }
          return have;
        }
        if (have + n > entry.size()) {
          throw mismatch(partial, clients.s3(key) + ": the store sends more than the listing's " + entry.size()
              + " bytes");
        }
        ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
        while (bytes.hasRemaining()) {
          out.write(bytes, have + bytes.position());
        }
        checks.update(buffer, n);
        have += n;
      }
    } finally {
      if (!drained) {
        // closing an unfinished body would read the rest of it to reuse the connection
        in.abort();
      }
      in.close();
    }
  }

  /** The size and the digests the download checks, fed as bytes arrive. */
  private final class Checks {
    private final Entry entry;
    private final MessageDigest sha256;
    private final MessageDigest md5;
    /** whether the object's ETag is the MD5 of its bytes: learnt from a response's encryption headers */
    private Boolean etagIsMd5;

    Checks(Entry entry) {
      this.entry = entry;
      this.sha256 = entry.sha256() == null ? null : digest("SHA-256");
      this.md5 = entry.sha256() == null && entry.etag() != null && MD5_ETAG.matcher(entry.etag()).matches()
          ? digest("MD5") : null;
    }

    /** Hashes the bytes an earlier try left in the partial file. */
    void hash(FileChannel file, long length) throws IOException {
      if (sha256 == null && md5 == null) {
        return;
      }
      ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
      for (long position = 0; position < length; ) {
        buffer.clear().limit((int) Math.min(BUFFER, length - position));
        int n = file.read(buffer, position);
        if (n < 0) {
          throw new IOException("the partial file shrank while it was read (at byte " + position + ")");
        }
        update(buffer.array(), n);
        position += n;
      }
    }

    void update(byte[] bytes, int n) {
      if (sha256 != null) {
        sha256.update(bytes, 0, n);
      }
      if (md5 != null) {
        md5.update(bytes, 0, n);
      }
    }

    void verify(Path partial, String key) throws IOException {
      long size = Files.size(partial);
      if (size != entry.size()) {
        throw mismatch(partial, clients.s3(key) + ": downloaded " + size + " bytes, the listing says "
            + entry.size());
      }
      if (sha256 != null) {
        String got = HexFormat.of().formatHex(sha256.digest());
        if (!got.equals(entry.sha256())) {
          throw mismatch(partial, clients.s3(key) + ": the downloaded bytes have SHA-256 " + got
              + ", the listing says " + entry.sha256());
        }
      } else if (md5 != null && Boolean.TRUE.equals(etagIsMd5)) {
        String got = HexFormat.of().formatHex(md5.digest());
        if (!got.equals(entry.etag())) {
          throw mismatch(partial, clients.s3(key) + ": the downloaded bytes have MD5 " + got
              + ", the object's ETag is " + entry.etag());
        }
      }
    }
  }

  /** SSE-KMS and SSE-C objects have ETags that are not the MD5 of their bytes. */
  private static boolean etagIsMd5(GetObjectResponse response) {
    return etagIsMd5(response.serverSideEncryption(), response.sseCustomerAlgorithm());
  }

  private static boolean etagIsMd5(HeadObjectResponse response) {
    return etagIsMd5(response.serverSideEncryption(), response.sseCustomerAlgorithm());
  }

  private static boolean etagIsMd5(ServerSideEncryption sse, String customerAlgorithm) {
    return customerAlgorithm == null && (sse == null || sse == ServerSideEncryption.AES256);
  }

  /** Deletes the partial file and returns the exception to throw. */
  private ChecksumMismatchException mismatch(Path partial, String what) throws IOException {
    Files.deleteIfExists(partial);
    return new ChecksumMismatchException(source + ": " + what + "; deleted " + partial);
  }

  // ---- keys

  private String keyOf(S3Client s3, Entry entry) throws IOException {
    Boolean single = singleObject;
    if (single == null) {
      // a download without a listing first (a new process resuming): decide as list() does
      single = !prefix.isEmpty() && exists(s3, prefix);
      singleObject = single;
    }
    return single ? prefix : key(checkedPath(entry.path(), entry.path()));
  }

  private boolean exists(S3Client s3, String key) throws IOException {
    try {
      s3.headObject(b -> b.bucket(bucket).key(key));
      return true;
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return false;
      }
      throw clients.failure("reading " + clients.s3(key), e);
    } catch (SdkException e) {
      throw clients.failure("reading " + clients.s3(key), e);
    }
  }

  /** {@code <prefix>/}, or nothing at the bucket's root. */
  private String directory() {
    return prefix.isEmpty() ? "" : prefix + "/";
  }

  private String key(String path) {
    return directory() + path;
  }

  private String relative(String key) throws IOException {
    return checkedPath(key.substring(directory().length()), clients.s3(key));
  }

  /** A path the Fetcher can place under its cache directory: no empty, "." or ".." segment, no leading '/'. */
  private String checkedPath(String path, String where) throws IOException {
    for (String segment : path.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw new IOException(source + ": " + where + ": \"" + path + "\" is not a relative file path (an empty, "
            + "\".\" or \"..\" segment); such a key cannot be fetched into a directory");
      }
    }
    return path;
  }

  // ---- requests

  @FunctionalInterface
  private interface Request<T> {
    T run();
  }

  /**
   * A request on an object as listed: a failed If-Match (412) or a vanished key means the object changed since the
   * listing, a new revision, which no retry of this download can cure.
   */
  private <T> T ifUnchanged(Listed o, Request<T> request) throws IOException {
    String action = "reading " + clients.s3(o.key());
    try {
      return request.run();
    } catch (NoSuchKeyException e) {
      throw changed(o, "it is gone");
    } catch (S3Exception e) {
      if (e.statusCode() == 412) {
        throw changed(o, "its ETag is no longer " + o.etag());
      }
      if (e.statusCode() == 404 && !"NoSuchBucket".equals(S3Clients.errorCode(e))) {
        throw changed(o, "it is gone");
      }
      throw clients.failure(action, e);
    } catch (SdkException e) {
      throw clients.failure(action, e);
    }
  }

  private IOException changed(Listed o, String how) {
    return new IOException(source + ": " + clients.s3(o.key()) + " changed since it was listed (" + how
        + "): the source has a new revision; list it again");
  }

  private <T> List<T> runAll(List<Callable<T>> tasks) throws IOException {
    int threads = Math.min(Math.min(8, settings.maxConnections()), Math.max(1, tasks.size()));
    AtomicInteger count = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "s3-list-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<T>> futures = new ArrayList<>();
      tasks.forEach(t -> futures.add(pool.submit(t)));
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) {
        results.add(f.get());
      }
      return List.copyOf(results);
    } catch (ExecutionException e) {
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
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(source + ": listing interrupted");
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- the client

  private synchronized S3Client client() {
    if (s3 == null) {
      connection = clients.connect(settings.maxConnections(), settings.maxAttempts());
      s3 = decorator.apply(connection.s3());
    }
    return s3;
  }

  @Override
  public synchronized void close() {
    if (connection != null) {
      connection.close();
      connection = null;
      s3 = null;
    }
  }

  private static String quote(String etag) {
    return "\"" + etag + "\"";
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has " + algorithm, e);
    }
  }
}
