package io.pose.trainer.fetch;

import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import io.pose.trainer.storage.hub.GitBlob;
import io.pose.trainer.storage.hub.HubHttp;
import io.pose.trainer.storage.hub.HubHttp.Auth;
import io.pose.trainer.storage.hub.HubHttp.Backoff;
import io.pose.trainer.storage.hub.HubHttp.Response;
import io.pose.trainer.storage.hub.HubRevision;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model or dataset repository on the Hugging Face Hub ({@code hf://org/name[@revision]},
 * {@code hf://datasets/org/name[@revision][/path]}), read with huggingface_hub's download protocol:
 *
 * <ol>
 *   <li>{@link #list}: {@code GET /api/{models|datasets}/{repo}/revision/{revision}?blobs=true} (the revision, main
 *       by default, percent-decoded from the URI like huggingface_hub's HfFileSystem and sent as one path segment, so
 *       {@code @refs%2Fpr%2F1} names {@code refs/pr/1}): the commit sha it resolves to and the repository's files
 *       ("siblings") with their size, git blob id ({@link Source.Entry#etag()}) and, for LFS files, the
 *       content's sha256 ({@link Source.Entry#sha256()}). For a dataset with a path, only the file of that name or
 *       the files under that folder; entry paths are always relative to the repository root (as the Hub names
 *       them), not to the path.
 *   <li>{@link #download}: {@code GET {endpoint}/[datasets/]{repo}/resolve/{commit sha}/{path}}, pinned to the
 *       commit the listing resolved, with the token. The Hub answers 200 with the bytes of a file stored in git and
 *       302 to a storage or CDN URL for an LFS file; an absolute redirect is followed without the token (it carries
 *       its own signature, and the token must never reach another host), a relative one (a renamed repository) with
 *       it. Bytes already in the partial file are kept and the rest asked for with {@code Range: bytes=<length>-}
 *       (206 appends; a 200 starts over). The whole file is then checked: its size, and the sha256 of an LFS file or
 *       the git blob id ({@code sha1("blob <size>\0" + content)}) of another; the bytes already there are hashed
 *       first and the rest streamed through the digest on its way to disk, so no file is ever held in memory.
 * </ol>
 *
 * <p>Retries: 408, 429 (after its Retry-After), 5xx and connection errors are retried with backoff ({@link HubHttp});
 * a connection that drops or stalls in the middle of a body is resumed from the bytes already written, and a try
 * that brought bytes does not count against the tries of the next failures.
 *
 * <p>Errors: a missing repository, revision or file is a {@link SourceNotFoundException}; a 401 or 403 is a
 * {@link CredentialsException} that says what to set (the spec field of the credentials Secret) and never carries
 * the token. The Hub answers 401 without a token for private, gated and missing repositories alike, so that case
 * names all three.
 */
public final class HubSource implements Source {

  private static final System.Logger LOG = System.getLogger(HubSource.class.getName());
  private static final int BUFFER = 1 << 20;
  private static final int MAX_REDIRECTS = 5;
  /** How long the Hub or storage may take to start an answer. */
  private static final Duration HEADERS_TIMEOUT = Duration.ofMinutes(2);
  /** A body that brings no byte for this long is a stalled connection: it is closed and the transfer resumed. */
  private static final Duration STALL = Duration.ofSeconds(60);
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hub-download-watchdog");
    t.setDaemon(true);
    return t;
  });

  private final StorageUri source;
  private final String repo;
  private final boolean dataset;
  private final String revision;
  private final String subPath;
  private final Credentials credentials;
  private final String credentialsField;
  private final Duration stall;
  private final HubHttp http;
  /** The commit {@link #list} resolved: downloads are pinned to it. */
  private volatile String commit;

  /** The endpoint from {@code HF_ENDPOINT}, else https://huggingface.co. */
  public HubSource(StorageUri source, Credentials credentials, String credentialsField) {
    this(source, credentials, credentialsField, HubHttp.endpoint(System.getenv()));
  }

  /**
   * @param source {@code hf://org/name[@revision]} or {@code hf://datasets/org/name[@revision][/path]}
   * @param credentials the Secret with the key {@code token} (a read token), or none for a public repository
   * @param credentialsField the spec field that names the Secret ({@code spec.model.credentialsSecret}, ...), named
   *     in errors
   */
  public HubSource(StorageUri source, Credentials credentials, String credentialsField, URI endpoint) {
    this(source, credentials, credentialsField, endpoint, Backoff.defaults(), STALL);
  }

  HubSource(StorageUri source, Credentials credentials, String credentialsField, URI endpoint, Backoff backoff,
      Duration stall) {
    if (source.scheme() != StorageUri.Scheme.HF) {
      throw new IllegalArgumentException(source + ": a Hub source is hf://org/name or hf://datasets/org/name");
    }
    this.source = source;
    this.repo = source.authority();
    this.dataset = source.dataset();
    this.subPath = source.path();
    this.revision = source.reference() == null ? "main" : decode(source);
    this.credentials = credentials;
    this.credentialsField = credentialsField;
    this.stall = stall;
    this.http = new HubHttp(HubHttp.newClient(), endpoint, credentials.get("token").orElse(null), backoff, LOG,
        this::refused);
  }

  private static String decode(StorageUri source) {
    try {
      // '+' is a plus in a path, not a space
      return URLDecoder.decode(source.reference().replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": the revision \"" + source.reference() + "\" has a malformed "
          + "%-escape (a '/' in a revision is written %2F)", e);
    }
  }

  @Override
  public Listing list() throws IOException {
    String what = "revision " + revision + " of " + kind() + " " + repo;
    URI uri = URI.create(http.endpoint() + HubRevision.apiPath(dataset, repo, revision));
    Response r = http.send(what, Auth.HUB, () -> HttpRequest.newBuilder(uri).timeout(HEADERS_TIMEOUT).GET());
    if (r.status() == 404) {
      throw notFound(r, null);
    }
    if (!r.ok()) {
      throw new IOException(source + ": " + what + ": " + r.message());
    }
    HubRevision head = HubRevision.parse(r.json(), what);
    List<Entry> entries = head.files().stream()
        .filter(f -> subPath.isEmpty() || f.path().equals(subPath) || f.path().startsWith(subPath + "/"))
        .map(f -> new Entry(f.path(), f.size(), f.lfsSha256(), f.blobId()))
        .toList();
    if (entries.isEmpty() && !subPath.isEmpty()) {
      throw new SourceNotFoundException(source + ": the " + kind() + " repository " + repo + " has no file or folder "
          + "\"" + subPath + "\" at " + revision + " (commit " + head.sha() + ")");
    }
    commit = head.sha();
    LOG.log(System.Logger.Level.INFO, "{0}: {1} is commit {2}; {3} files, {4} bytes", source, revision, head.sha(),
        entries.size(), entries.stream().mapToLong(Entry::size).sum());
    return new Listing(head.sha(), entries);
  }

  @Override
  public void download(Entry entry, Path partial) throws IOException {
    String sha = commit;
    if (sha == null) {
      throw new IllegalStateException(source + ": downloads are pinned to the commit list() resolves; call it first");
    }
    URI url = URI.create(http.endpoint() + (dataset ? "/datasets/" : "/") + repo + "/resolve/" + sha + "/"
        + HubHttp.path(entry.path()));
    try {
      transfer(entry, url, partial);
    } catch (ChecksumMismatchException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
  }

  private void transfer(Entry entry, URI url, Path partial) throws IOException {
    String what = "download of " + entry.path();
    Check check = Check.of(entry);
    long resumedAt;
    try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      long have = out.size();
      if (have > entry.size()) {
        LOG.log(System.Logger.Level.WARNING, "{0}: the partial file has {1} bytes, more than the {2} listed; "
            + "starting over", entry.path(), have, entry.size());
        out.truncate(0);
        have = 0;
      }
      check.read(out, have);
      out.position(have);
      resumedAt = have;
      HubHttp.Retry retry = http.retry(what);
      while (have < entry.size()) {
        have = tryOnce(what, entry, url, out, check, have, retry);
      }
      out.force(false);
    }
    check.verify(entry, source, commit);
    LOG.log(System.Logger.Level.INFO, "{0}: {1} bytes{2}", entry.path(), entry.size(),
        resumedAt > 0 ? " (resumed at byte " + resumedAt + ")" : "");
  }

  /**
   * One request and as much of its body as arrives.
   *
   * @return the bytes in the partial file after this try
   */
  private long tryOnce(String what, Entry entry, URI url, FileChannel out, Check check, long have,
      HubHttp.Retry retry) throws IOException {
    URI uri = url;
    Auth auth = Auth.HUB;
    for (int redirects = 0; ; redirects++) {
      HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(HEADERS_TIMEOUT).GET();
      if (have > 0) {
        request.header("Range", "bytes=" + have + "-");
      }
      HttpResponse<InputStream> r;
      try {
        r = http.open(what, auth, request);
      } catch (IOException e) {
        retry.failed(e);
        return have;
      }
      int status = r.statusCode();
      String location = r.headers().firstValue("Location").orElse(null);
      if (status / 100 == 3 && location != null) {
        r.body().close();
        if (redirects == MAX_REDIRECTS) {
          throw new IOException(what + ": more than " + MAX_REDIRECTS + " redirects");
        }
        URI target;
        try {
          target = URI.create(location);
        } catch (IllegalArgumentException e) {
          throw new IOException(what + ": the Hub redirected to a malformed URL", e);
        }
        // a relative redirect stays on the Hub (a renamed repository); an absolute one goes to storage or a CDN
        // whose URL carries its own signature: the token never goes there, even on the Hub's own host
        if (target.getHost() != null) {
          auth = Auth.PRESIGNED;
        }
        uri = uri.resolve(target);
        continue;
      }
      if (status == 200 || status == 206) {
        return receive(what, entry, r, out, check, have, retry);
      }
      Response answer = Response.read(r);
      http.refuseCredentials(answer, auth, what);
      if (status == 404) {
        throw notFound(answer, entry);
      }
      if (status == 416) {
        throw new ChecksumMismatchException(source + ": " + entry.path() + " has fewer bytes than the " + entry.size()
            + " listed (a range from byte " + have + " is past its end); the partial file was deleted");
      }
      if (!HubHttp.isTransient(answer)) {
        throw new IOException(source + ": " + what + ": " + answer.message());
      }
      retry.failed(answer);
      return have;
    }
  }

  /** Streams a 200 or 206 body into the partial file and the digest. */
  private long receive(String what, Entry entry, HttpResponse<InputStream> r, FileChannel out, Check check,
      long have, HubHttp.Retry retry) throws IOException {
    if (r.statusCode() == 206) {
      long start = rangeStart(r.headers());
      if (start != have) {
        r.body().close();
        throw new IOException(what + ": asked for the bytes from " + have + ", storage answered the range "
            + r.headers().firstValue("Content-Range").orElse("(none)"));
      }
    } else if (have > 0) {
      LOG.log(System.Logger.Level.INFO, "{0}: the server does not resume (200 to a range): starting over", what);
      out.truncate(0);
      out.position(0);
      check.restart();
      have = 0;
    }
    long before = have;
    StallGuard guard = null;
    try (InputStream in = r.body()) {
      guard = new StallGuard(in);
      byte[] buf = new byte[BUFFER];
      for (int n; (n = in.read(buf)) != -1; ) {
        if (have + n > entry.size()) {
          throw new ChecksumMismatchException(source + ": " + entry.path() + " has more bytes than the "
              + entry.size() + " listed; the partial file was deleted");
        }
        write(out, buf, n);
        check.update(buf, n);
        have += n;
        guard.progress(have);
      }
    } catch (ChecksumMismatchException | DiskError e) {
      throw e;
    } catch (IOException e) {
      if (have > before) {
        retry.progressed();
      }
      retry.failed(guard != null && guard.fired
          ? new IOException("no data for " + stall.toMillis() + " ms at byte " + have, e) : e);
      return have;
    } finally {
      if (guard != null) {
        guard.close();
      }
    }
    if (have > before) {
      retry.progressed();
    }
    if (have < entry.size()) {
      retry.failed(new EOFException("the answer ended at byte " + have + " of " + entry.size()));
    }
    return have;
  }

  private static void write(FileChannel out, byte[] buf, int n) throws DiskError {
    ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
    try {
      while (b.hasRemaining()) {
        out.write(b);
      }
    } catch (IOException e) {
      throw new DiskError(e);
    }
  }

  /** The start of a 206's Content-Range, or -1. */
  private static long rangeStart(HttpHeaders headers) {
    Matcher m = CONTENT_RANGE.matcher(headers.firstValue("Content-Range").orElse("").strip());
    return m.matches() ? Long.parseLong(m.group(1)) : -1;
  }

  private SourceNotFoundException notFound(Response r, Entry entry) {
    String code = r.errorCode() == null ? "" : r.errorCode();
    return new SourceNotFoundException(source + ": " + switch (code) {
      case "RevisionNotFound" -> "the " + kind() + " repository " + repo + " has no revision \"" + revision
          + "\" (a branch, tag or commit sha)";
      case "EntryNotFound" -> "no file \"" + (entry == null ? subPath : entry.path()) + "\" at commit " + commit;
      case "RepoNotFound" -> "there is no " + kind() + " repository " + repo + " on " + http.endpoint()
          + (http.hasToken() ? " (or it is private to an account the token does not belong to)" : "");
      default -> (entry == null ? kind() + " repository " + repo : entry.path()) + ": " + r.message();
    });
  }

  /** The Hub's 401 or 403, as the error a user can act on. */
  private CredentialsException refused(Response r, String what) {
    boolean gated = "GatedRepo".equals(r.errorCode());
    if (!http.hasToken()) {
      String state = gated ? "is gated" : "RepoNotFound".equals(r.errorCode())
          ? "is private or gated (or does not exist)" : "is gated or private";
      String fix = credentials.secret() == null
          ? "set " + credentialsField + " to a Secret whose key \"token\" holds a Hugging Face token that can read it"
          : "Secret \"" + credentials.secret() + "\" (" + credentialsField + ") has no key \"token\"";
      return new CredentialsException(source + ": the " + kind() + " repository " + state + ": " + fix
          + " (no token was sent; the Hub answered " + r.message() + ")");
    }
    String token = "the token in Secret \"" + credentials.secret() + "\" (" + credentialsField + ")";
    if (r.status() == 401) {
      return new CredentialsException(source + ": the Hub rejected " + token + " (" + r.message() + ", " + what
          + "): check that it is valid and not expired");
    }
    if (gated) {
      return new CredentialsException(source + ": the " + kind() + " is gated and " + token + " has not been granted "
          + "access (" + r.message() + "): accept its conditions on the Hub with the token's account");
    }
    return new CredentialsException(source + ": the Hub refused " + token + " (" + r.message() + ", " + what
        + "): it needs read access to " + repo);
  }

  private String kind() {
    return dataset ? "dataset" : "model";
  }

  @Override
  public String toString() {
    return "Hub source " + source + " at " + http.endpoint();
  }

  /** Writing the partial file failed: the disk, not the network, so no retry. */
  private static final class DiskError extends IOException {
    DiskError(IOException cause) {
      super("writing the partial file: " + cause.getMessage(), cause);
    }
  }

  /** What a completed file is checked against: the sha256 of an LFS file, else the git blob id, else its size. */
  private static final class Check {
    private final String algorithm;
    private final String expected;
    private final long size;
    private MessageDigest digest;

    private Check(String algorithm, String expected, long size) {
      this.algorithm = algorithm;
      this.expected = expected;
      this.size = size;
      restart();
    }

    static Check of(Entry e) {
      if (e.sha256() != null) {
        return new Check("sha256", e.sha256().toLowerCase(Locale.ROOT), e.size());
      }
      if (e.etag() != null && HubRevision.COMMIT_SHA.matcher(e.etag()).matches()) {
        return new Check("git blob id", e.etag(), e.size());
      }
      return new Check(null, null, e.size());
    }

    void restart() {
      if ("sha256".equals(algorithm)) {
        try {
          digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
          throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
      } else if (algorithm != null) {
        digest = GitBlob.digest(size);
      }
    }

    void update(byte[] b, int n) {
      if (digest != null) {
        digest.update(b, 0, n);
      }
    }

    /** Hashes the first {@code length} bytes already in the file (an earlier try's). */
    void read(FileChannel file, long length) throws IOException {
      if (digest == null || length == 0) {
        return;
      }
      ByteBuffer buf = ByteBuffer.allocate(BUFFER);
      for (long position = 0; position < length; ) {
        buf.clear().limit((int) Math.min(buf.capacity(), length - position));
        int n = file.read(buf, position);
        if (n == -1) {
          throw new IOException("the partial file shrank while it was read");
        }
        digest.update(buf.flip());
        position += n;
      }
    }

    void verify(Entry entry, StorageUri source, String commit) throws ChecksumMismatchException {
      if (digest == null) {
        return;
      }
      String actual = HexFormat.of().formatHex(digest.digest());
      if (!actual.equals(expected)) {
        throw new ChecksumMismatchException(source + ": " + entry.path() + " (" + entry.size() + " bytes) has the "
            + algorithm + " " + actual + ", the Hub lists " + expected + " at commit " + commit
            + "; the partial file was deleted");
      }
    }
  }

  /** Closes a body that brings no byte for the stall time, so that a blocked read fails and the transfer resumes. */
  private final class StallGuard implements AutoCloseable {
    private final AtomicLong bytes = new AtomicLong();
    private final ScheduledFuture<?> task;
    private long lastSeen;
    private volatile boolean fired;

    StallGuard(InputStream body) {
      long period = stall.toMillis();
      task = WATCHDOG.scheduleAtFixedRate(() -> {
        long now = bytes.get();
        if (now == lastSeen && !fired) {
          fired = true;
          try {
            body.close();
          } catch (IOException ignored) {
            // the reader fails either way
          }
        }
        lastSeen = now;
      }, period, period, TimeUnit.MILLISECONDS);
    }

    void progress(long total) {
      bytes.set(total);
    }

    @Override
    public void close() {
      task.cancel(false);
    }
  }
}
