package io.pose.trainer.storage.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A Hugging Face Hub on 127.0.0.1 for tests: the endpoints a model upload and a model or dataset download use, with
 * the Hub's answers as huggingface_hub and huggingface.js expect them, storage behind presigned URLs included.
 * Repositories are named by their URL prefix: {@code org/name} for a model, {@code datasets/org/name} for a dataset.
 *
 * <p>Modelled:
 * <ul>
 *   <li>{@code POST /api/repos/create} ({@code {name, organization, type (model or dataset), private}}): 200
 *       {@code {url, name}} and an initial commit holding the Hub's default {@code .gitattributes}; 409 when the
 *       repository exists.
 *   <li>{@code GET /api/{models|datasets}/{org}/{name}/revision/{revision}[?blobs=true]}, the revision a branch, a
 *       tag or a commit sha, one path segment ({@code refs%2Fpr%2F1}): {@code {id, sha, private, gated, siblings}},
 *       siblings with {@code rfilename}, and with {@code blobId}, {@code size} and {@code lfs {sha256, size,
 *       pointerSize}} when asked for blobs (blob ids are real git blob ids, of the LFS pointer for LFS files).
 *   <li>{@code GET} and {@code HEAD /[datasets/]{org}/{name}/resolve/{revision}/{path}}: a file stored in git is
 *       answered 200 with its bytes, {@code ETag} (its quoted blob id), {@code X-Repo-Commit} and
 *       {@code Accept-Ranges: bytes}; an LFS file 302 to a presigned storage URL ({@code Location}) with
 *       {@code X-Linked-Etag} (the quoted sha256), {@code X-Linked-Size}, {@code ETag} (the pointer's blob id) and
 *       {@code X-Repo-Commit}.
 *   <li>Storage downloads ({@code GET /storage/lfs/{oid}}, presigned): a valid, unexpired signature (403 otherwise);
 *       an Authorization header is refused (400, like S3 and the CDN: proof that the token did not follow the
 *       redirect).
 *   <li>Ranges on both (one {@code bytes=a-}, {@code a-b} or {@code -n} range): 206 with {@code Content-Range}, 416
 *       with {@code Content-Range: bytes *}{@code /size} when it starts past the end; malformed ranges are ignored.
 *   <li>{@code POST /api/models/{repo}/preupload/{branch}}: {@code uploadMode} "lfs" when the path matches an LFS
 *       pattern of the head's .gitattributes (the default has *.safetensors, *.bin, ...), when the file is larger
 *       than the LFS threshold (the Hub's 10 MB) or when the 512-byte sample is binary (a NUL byte or not UTF-8);
 *       "regular" otherwise; {@code shouldIgnore} false; {@code oid} of the file at the head.
 *   <li>{@code POST /{repo}.git/info/lfs/objects/batch} (Git LFS batch API, upload only): objects already stored get
 *       no actions; objects larger than the chunk size get the multipart transfer (header {@code chunk_size} and
 *       zero-padded part numbers mapping to presigned part URLs, href = the signed completion URL), smaller ones a
 *       single presigned PUT; each gets a verify action. Malformed oids or sizes get a per-object error (422).
 *   <li>Storage behind presigned URLs (like S3): PUTs need a valid, unexpired signature (403 otherwise), refuse an
 *       Authorization header (400, "only one auth mechanism allowed") and a missing Content-Length (411); part PUTs
 *       answer an ETag (quoted MD5 of the part).
 *   <li>Completion ({@code POST /api/complete_multipart/...}, signed): every part once, in order, with the ETag of
 *       its last upload, all but the last exactly chunk_size bytes (400 otherwise); assembles the object; idempotent.
 *       An object is stored under its oid only if its bytes hash to the oid with the announced size.
 *   <li>{@code POST /{repo}.git/info/lfs/objects/verify} {@code {oid, size}}: 200 when stored with that size; 422
 *       when the uploaded bytes did not match; 404 when nothing was uploaded.
 *   <li>{@code POST /api/models/{repo}/commit/{branch}} (application/x-ndjson): header {@code {summary, description,
 *       parentCommit}} (412 when parentCommit is not the branch head), {@code file} (base64 or utf-8; binary content
 *       or more than the LFS threshold inline is refused, 400), {@code lfsFile} (400 when the oid was not uploaded
 *       with that size), {@code deletedFile}/{@code deletedFolder} (404 when absent); LFS paths no pattern covers
 *       are added to .gitattributes. All or nothing: the branch moves to a new 40-hex commit only when every line
 *       applied. Answers {@code {success, commitOid, commitUrl, hookOutput}}.
 *   <li>Errors carry the Hub's {@code X-Error-Message} and, where the Hub sets one, {@code X-Error-Code}: 404
 *       {@code RepoNotFound}, {@code RevisionNotFound} ("Invalid rev id: ..."), {@code EntryNotFound}.
 *   <li>Tokens: writes need a write token (401 without or with an unknown one, 403 with a read token). An unknown
 *       token is 401 ("Invalid credentials in Authorization header") everywhere. A private or missing repository
 *       is 401 {@code RepoNotFound} without a token (the Hub does not tell them apart) and, with one, private
 *       repositories are readable and missing ones 404. A gated repository ({@link #gate}) shows its revision
 *       ({@code gated: "manual"}) and file list to everyone; its files ({@code /resolve/}) need a token (401
 *       {@code GatedRepo}) whose access was granted (403 {@code GatedRepo} otherwise).
 *   <li>Faults ({@link #fail}, {@link #dropRequest}, {@link #dropResponse}, {@link #corrupt}, {@link #cutResponse},
 *       {@link #stallResponse}, {@link #ignoreRange}, {@link #before}) for the first N requests of a {@link Kind}: a
 *       status with Retry-After and RateLimit headers, the connection closed after part of the request body, the
 *       request applied but the connection closed instead of the answer, an upload stored or a download served with
 *       one byte flipped, a download whose connection closes after N bytes of the body (at once, or after a silent
 *       pause: a stall), a Range header not honoured (200 with the whole file, as a server without range support),
 *       or an action run first (a concurrent commit).
 *   <li>What was asked: {@link #requests} per kind, {@link #seen} (method, path, Range, whether an Authorization
 *       header came) and {@link #bytesServed} per kind.
 * </ul>
 *
 * <p>Does not model: Space repositories, uploads to dataset repositories (preupload, commit and LFS are models
 * only), branch and tag creation over HTTP ({@link #createBranch} and {@link #createTag} stand in), renamed
 * repositories (307 to the new name), pull requests ({@code create_pr}), .gitignore ({@code shouldIgnore} is always
 * false), the Xet transfer and its headers, the tree listing API ({@code /tree/}), truncated sibling lists of very
 * large repositories, multi-range requests, rate-limit accounting (429s come only from faults), token scopes per
 * namespace (a write token writes everywhere and any known token reads private repositories), README metadata
 * validation, commit size limits, the older JSON commit format, presigned URL expiry beyond a fixed 15 minutes, and
 * S3's 5 MiB minimum part size (chunk_size may be anything so that tests stay small).
 */
public final class LocalHub implements AutoCloseable {

  /** The requests faults and counts are kept for. */
  public enum Kind {
    CREATE, REVISION, PREUPLOAD, BATCH, UPLOAD, PART, COMPLETE, VERIFY, COMMIT,
    /** GET or HEAD on {@code /resolve/}. */
    RESOLVE,
    /** GET of an LFS object from storage (a presigned URL). */
    DOWNLOAD,
    OTHER
  }

  /**
   * One request as LocalHub saw it.
   *
   * @param path the raw path, without the query (presigned URLs carry their signature there)
   * @param range the Range header, or null
   * @param authorization whether an Authorization header came
   */
  public record Seen(Kind kind, String method, String path, String range, boolean authorization) {}

  /** The file the Hub creates with a repository and keeps up to date with LFS paths. */
  public static final String GITATTRIBUTES = ".gitattributes";

  /** The Hub's default .gitattributes for a new model repository (a subset of its patterns). */
  public static final String DEFAULT_GITATTRIBUTES = String.join("\n",
      "*.7z filter=lfs diff=lfs merge=lfs -text",
      "*.bin filter=lfs diff=lfs merge=lfs -text",
      "*.ckpt filter=lfs diff=lfs merge=lfs -text",
      "*.gz filter=lfs diff=lfs merge=lfs -text",
      "*.h5 filter=lfs diff=lfs merge=lfs -text",
      "*.msgpack filter=lfs diff=lfs merge=lfs -text",
      "*.npy filter=lfs diff=lfs merge=lfs -text",
      "*.onnx filter=lfs diff=lfs merge=lfs -text",
      "*.pt filter=lfs diff=lfs merge=lfs -text",
      "*.pth filter=lfs diff=lfs merge=lfs -text",
      "*.safetensors filter=lfs diff=lfs merge=lfs -text",
      "*.zip filter=lfs diff=lfs merge=lfs -text",
      "*tfevents* filter=lfs diff=lfs merge=lfs -text",
      "");

  /** A dataset repository's default adds the columnar formats (a subset of the Hub's patterns). */
  public static final String DEFAULT_DATASET_GITATTRIBUTES = DEFAULT_GITATTRIBUTES + String.join("\n",
      "*.arrow filter=lfs diff=lfs merge=lfs -text",
      "*.parquet filter=lfs diff=lfs merge=lfs -text",
      "");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern OID = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern SHA = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");
  private static final long URL_LIFETIME_SECONDS = 900;
  /** The Hub guesses text vs binary from the first 512 bytes of a file. */
  private static final int SAMPLE_BYTES = 512;

  /** Files larger than this go by LFS (the Hub: 10 MB). */
  private volatile long lfsThreshold = 10L * 1000 * 1000;
  /** LFS objects larger than this are uploaded in parts of this size. */
  private volatile long chunkSize = 64L << 20;

  private final HttpServer server;
  private final ExecutorService pool;
  private final Path storage;
  private final byte[] signingKey = new byte[32];
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Boolean> tokens = new HashMap<>();
  private final Map<String, Repo> repos = new HashMap<>();
  private final Map<String, Long> objects = new HashMap<>();
  private final Map<String, Upload> uploads = new HashMap<>();
  private final Map<String, String> mismatches = new HashMap<>();
  private final Map<Kind, AtomicInteger> counts = new EnumMap<>(Kind.class);
  private final Map<Kind, AtomicLong> served = new EnumMap<>(Kind.class);
  private final Map<Kind, Deque<Fault>> faults = new EnumMap<>(Kind.class);
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final List<Throwable> internalErrors = new CopyOnWriteArrayList<>();

  private record Entry(byte[] content, String oid, long size) {
    boolean lfs() {
      return content == null;
    }
  }

  private record Commit(String sha, String parent, String summary, String description, Map<String, Entry> tree) {}

  private static final class Repo {
    final String id;
    final boolean dataset;
    final boolean isPrivate;
    final Map<String, String> branches = new HashMap<>();
    final Map<String, String> tags = new HashMap<>();
    final Map<String, Commit> commits = new HashMap<>();
    /** The tokens granted access when the repository is gated, else null. */
    Set<String> gatedFor;

    Repo(String id, boolean dataset, boolean isPrivate) {
      this.id = id;
      this.dataset = dataset;
      this.isPrivate = isPrivate;
    }

    String type() {
      return dataset ? "dataset" : "model";
    }
  }

  private static final class Upload {
    final String id;
    final String oid;
    final long size;
    final int parts;
    final Map<Integer, Path> partFiles = new HashMap<>();
    final Map<Integer, String> etags = new HashMap<>();
    boolean completed;

    Upload(String id, String oid, long size, int parts) {
      this.id = id;
      this.oid = oid;
      this.size = size;
      this.parts = parts;
    }
  }

  /**
   * @param cutAfterBytes a download's body stops after this many bytes and the connection closes (-1: no cut)
   * @param pauseMillis how long the server waits, silent, between the last byte of a cut body and the close
   * @param ignoreRange a download answers 200 with the whole file whatever its Range header
   */
  private record Fault(int status, Integer retryAfter, long dropAfterBytes, boolean dropResponse, boolean corrupt,
      long cutAfterBytes, long pauseMillis, boolean ignoreRange, Runnable action) {
    static Fault none() {
      return new Fault(0, null, -1, false, false, -1, 0, false, null);
    }
  }

  /**
   * An answer: {@code length} bytes of the body from {@code offset}, from {@code body} or, for LFS objects, from
   * {@code file} (streamed).
   */
  private record Reply(int status, Map<String, String> headers, byte[] body, Path file, long offset, long length) {
    Reply(int status, Map<String, String> headers, byte[] body) {
      this(status, headers, body, null, 0, body.length);
    }

    static Reply json(int status, Object body) {
      try {
        return new Reply(status, Map.of("Content-Type", "application/json"), JSON.writeValueAsBytes(body));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    static Reply error(int status, String message, String code) {
      Reply r = json(status, Map.of("error", message));
      if (code == null) {
        return r;
      }
      Map<String, String> h = new LinkedHashMap<>(r.headers());
      h.put("X-Error-Code", code);
      return new Reply(status, h, r.body());
    }
  }

  /** Thrown by handlers to answer with an error. */
  private static final class HubError extends RuntimeException {
    final int status;
    final String code;

    HubError(int status, String message) {
      this(status, message, null);
    }

    /** @param code the Hub's X-Error-Code */
    HubError(int status, String message, String code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /**
   * @param storage a directory for uploaded LFS objects and parts
   */
  public LocalHub(Path storage) throws IOException {
    this.storage = storage;
    random.nextBytes(signingKey);
    for (Kind k : Kind.values()) {
      counts.put(k, new AtomicInteger());
      served.put(k, new AtomicLong());
      faults.put(k, new ArrayDeque<>());
    }
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    pool = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "local-hub");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(pool);
    server.createContext("/", this::handle);
    server.start();
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /** Accepts {@code token}: with write access or read-only. */
  public synchronized void addToken(String token, boolean write) {
    tokens.put(token, write);
  }

  /** Files larger than this go by LFS (default: the Hub's 10 MB). */
  public void lfsThreshold(long bytes) {
    lfsThreshold = bytes;
  }

  /** LFS objects larger than this are uploaded in parts of this size (default 64 MiB). */
  public void chunkSize(long bytes) {
    chunkSize = bytes;
  }

  // --- repositories, as their owner sets them up on the Hub's website ---

  /**
   * Creates a repository with the Hub's initial commit (its default .gitattributes) on main.
   *
   * @param repo {@code org/name} for a model, {@code datasets/org/name} for a dataset
   */
  public synchronized void createRepo(String repo, boolean isPrivate) {
    boolean dataset = repo.startsWith("datasets/");
    String id = dataset ? repo.substring("datasets/".length()) : repo;
    String[] parts = id.split("/", -1);
    if (parts.length != 2 || !NAME.matcher(parts[0]).matches() || !NAME.matcher(parts[1]).matches()) {
      throw new IllegalArgumentException("invalid repository name: " + repo);
    }
    if (repos.containsKey(repo)) {
      throw new IllegalStateException(repo + " exists");
    }
    Repo r = new Repo(id, dataset, isPrivate);
    repos.put(repo, r);
    String attributes = dataset ? DEFAULT_DATASET_GITATTRIBUTES : DEFAULT_GITATTRIBUTES;
    byte[] content = attributes.getBytes(StandardCharsets.UTF_8);
    newCommit(r, "main", "initial commit", "", Map.of(GITATTRIBUTES, new Entry(content, null, content.length)));
  }

  /** Gates the repository: everyone sees its file list, only these tokens may download its files. */
  public synchronized void gate(String repo, String... tokensWithAccess) {
    existing(repo).gatedFor = Set.of(tokensWithAccess);
  }

  /** A branch at the commit {@code revision} (a branch, tag or sha) names. */
  public synchronized void createBranch(String repo, String branch, String revision) {
    Repo r = existing(repo);
    r.branches.put(branch, resolve(r, revision));
  }

  /** A tag at the commit {@code revision} (a branch, tag or sha) names. */
  public synchronized void createTag(String repo, String tag, String revision) {
    Repo r = existing(repo);
    r.tags.put(tag, resolve(r, revision));
  }

  /**
   * A commit made by someone else (the website, git): {@code files} added or replaced on main, as LFS files or in git
   * by the Hub's rules (the preupload rules on the whole file; empty files in git).
   *
   * @return the new commit
   */
  public synchronized String commitDirectly(String repo, String summary, Map<String, byte[]> files) {
    return commitDirectly(repo, "main", summary, files);
  }

  /** Like {@link #commitDirectly(String, String, Map)}, on {@code branch}. */
  public synchronized String commitDirectly(String repo, String branch, String summary, Map<String, byte[]> files) {
    Repo r = existing(repo);
    Map<String, Entry> tree = new TreeMap<>(r.commits.get(r.branches.get(branch)).tree());
    List<PathMatcherLine> patterns = lfsPatterns(tree);
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      String path = validPath(f.getKey());
      byte[] c = f.getValue();
      byte[] sample = Arrays.copyOf(c, Math.min(c.length, SAMPLE_BYTES));
      boolean lfs = c.length > 0 && (c.length > lfsThreshold || patterns.stream().anyMatch(p -> p.matches(path))
          || binary(sample, c.length > SAMPLE_BYTES));
      if (lfs) {
        String oid = HexFormat.of().formatHex(digest("SHA-256").digest(c));
        try {
          Files.write(objectFile(oid), c);
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
        objects.put(oid, (long) c.length);
        tree.put(path, new Entry(null, oid, c.length));
      } else {
        tree.put(path, new Entry(c.clone(), null, c.length));
      }
    }
    return newCommit(r, branch, summary, "", tree);
  }

  // --- faults ---

  /** The next {@code times} requests of {@code kind} answer {@code status} (with Retry-After when not null). */
  public synchronized void fail(Kind kind, int times, int status, Integer retryAfterSeconds) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(status, retryAfterSeconds, -1, false, false, -1, 0, false, null));
    }
  }

  /** The next {@code times} requests of {@code kind} lose their connection after {@code afterBytes} of the body. */
  public synchronized void dropRequest(Kind kind, int times, long afterBytes) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, afterBytes, false, false, -1, 0, false, null));
    }
  }

  /** The next {@code times} requests of {@code kind} are applied, then the connection closes instead of the answer. */
  public synchronized void dropResponse(Kind kind, int times) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, -1, true, false, -1, 0, false, null));
    }
  }

  /**
   * The next {@code times} requests of {@code kind} go wrong by one byte: uploads (UPLOAD, PART) are stored with
   * their first byte flipped, downloads (RESOLVE, DOWNLOAD) serve their first byte flipped.
   */
  public synchronized void corrupt(Kind kind, int times) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, -1, false, true, -1, 0, false, null));
    }
  }

  /**
   * The next {@code times} downloads of {@code kind} (RESOLVE, DOWNLOAD) announce the whole length, send
   * {@code afterBytes} bytes of the body and close the connection.
   */
  public synchronized void cutResponse(Kind kind, int times, long afterBytes) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, -1, false, false, afterBytes, 0, false, null));
    }
  }

  /**
   * The next {@code times} downloads of {@code kind} send {@code afterBytes} bytes of the body, then nothing for
   * {@code pause} (a stalled connection), then close the connection.
   */
  public synchronized void stallResponse(Kind kind, int times, long afterBytes, Duration pause) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, -1, false, false, afterBytes, pause.toMillis(), false, null));
    }
  }

  /** The next {@code times} downloads of {@code kind} answer 200 with the whole file, whatever their Range. */
  public synchronized void ignoreRange(Kind kind, int times) {
    for (int i = 0; i < times; i++) {
      faults.get(kind).add(new Fault(0, null, -1, false, false, -1, 0, true, null));
    }
  }

  /** Forgets the faults not used yet. */
  public synchronized void clearFaults() {
    faults.values().forEach(Deque::clear);
  }

  /** Runs {@code action} before the next request of {@code kind} is handled. */
  public synchronized void before(Kind kind, Runnable action) {
    faults.get(kind).add(new Fault(0, null, -1, false, false, -1, 0, false, action));
  }

  // --- what happened ---

  public int requests(Kind kind) {
    return counts.get(kind).get();
  }

  /** Every request so far, in the order they arrived. */
  public List<Seen> seen() {
    return List.copyOf(seen);
  }

  /** Body bytes sent in answers to requests of {@code kind}. */
  public long bytesServed(Kind kind) {
    return served.get(kind).get();
  }

  /** Errors inside LocalHub itself (answered as 500): a test should see none. */
  public List<Throwable> internalErrors() {
    return List.copyOf(internalErrors);
  }

  /** The head commit of main, or null when the repository does not exist. */
  public synchronized String head(String repo) {
    Repo r = repos.get(repo);
    return r == null ? null : r.branches.get("main");
  }

  /** The commits of main, newest first. */
  public synchronized List<String> commits(String repo) {
    Repo r = repos.get(repo);
    List<String> out = new ArrayList<>();
    for (String sha = r == null ? null : r.branches.get("main"); sha != null; sha = r.commits.get(sha).parent()) {
      out.add(sha);
    }
    return out;
  }

  public synchronized String summary(String repo, String sha) {
    return existing(repo).commits.get(sha).summary();
  }

  public synchronized boolean isPrivate(String repo) {
    return existing(repo).isPrivate;
  }

  /** The files at the head of main, LFS files read back from storage. */
  public synchronized Map<String, byte[]> files(String repo) throws IOException {
    Map<String, byte[]> out = new TreeMap<>();
    for (Map.Entry<String, Entry> e : headTree(repo).entrySet()) {
      Entry f = e.getValue();
      out.put(e.getKey(), f.lfs() ? Files.readAllBytes(objectFile(f.oid())) : f.content());
    }
    return out;
  }

  /** Whether {@code path} at the head of main is an LFS file. */
  public synchronized boolean isLfs(String repo, String path) {
    return headTree(repo).get(path).lfs();
  }

  /** The LFS objects in storage (completed and hash-checked). */
  public synchronized List<String> storedObjects() {
    return List.copyOf(objects.keySet());
  }

  private Map<String, Entry> headTree(String repo) {
    Repo r = existing(repo);
    return r.commits.get(r.branches.get("main")).tree();
  }

  private Repo existing(String repo) {
    Repo r = repos.get(repo);
    if (r == null) {
      throw new IllegalArgumentException("LocalHub has no repository " + repo);
    }
    return r;
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdownNow();
  }

  // ---------------------------------------------------------------------------------------------------------------

  private static final Pattern CREATE = Pattern.compile("/api/repos/create");
  private static final Pattern REVISION =
      Pattern.compile("/api/(models|datasets)/([^/]+)/([^/]+)/revision/([^/]+)");
  private static final Pattern PREUPLOAD = Pattern.compile("/api/models/([^/]+)/([^/]+)/preupload/([^/]+)");
  private static final Pattern COMMIT = Pattern.compile("/api/models/([^/]+)/([^/]+)/commit/([^/]+)");
  private static final Pattern BATCH = Pattern.compile("/([^/]+)/([^/]+)\\.git/info/lfs/objects/batch");
  private static final Pattern VERIFY = Pattern.compile("/([^/]+)/([^/]+)\\.git/info/lfs/objects/verify");
  private static final Pattern UPLOAD = Pattern.compile("/storage/objects/([0-9a-f]+)");
  private static final Pattern PART = Pattern.compile("/storage/parts/([0-9a-f]+)/(\\d+)");
  private static final Pattern COMPLETE = Pattern.compile("/api/complete_multipart/([0-9a-f]+)");
  private static final Pattern RESOLVE = Pattern.compile("/(datasets/)?([^/]+)/([^/]+)/resolve/([^/]+)/(.+)");
  private static final Pattern DOWNLOAD = Pattern.compile("/storage/lfs/([0-9a-f]{64})");

  private void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    String method = ex.getRequestMethod();
    Kind kind = kind(method, path);
    counts.get(kind).incrementAndGet();
    seen.add(new Seen(kind, method, path, ex.getRequestHeaders().getFirst("Range"),
        ex.getRequestHeaders().containsKey("Authorization")));
    Fault fault;
    synchronized (this) {
      fault = faults.get(kind).poll();
    }
    if (fault == null) {
      fault = Fault.none();
    }
    boolean download = kind == Kind.RESOLVE || kind == Kind.DOWNLOAD;
    try {
      if (fault.action() != null) {
        fault.action().run();
      }
      if (fault.dropAfterBytes() >= 0) {
        ex.getRequestBody().readNBytes((int) Math.min(fault.dropAfterBytes(), Integer.MAX_VALUE));
        return; // closing before any answer closes the connection
      }
      if (fault.status() > 0) {
        drain(ex);
        Map<String, String> h = new LinkedHashMap<>();
        if (fault.retryAfter() != null) {
          h.put("Retry-After", String.valueOf(fault.retryAfter()));
          h.put("RateLimit", "\"api\";r=0;t=" + fault.retryAfter());
        }
        h.put("Content-Type", "application/json");
        send(ex, kind, new Reply(fault.status(), h, ("{\"error\":\"injected HTTP " + fault.status() + "\"}")
            .getBytes(StandardCharsets.UTF_8)), Fault.none());
        return;
      }
      Reply reply;
      try {
        reply = route(kind, ex, path, fault);
      } catch (HubError e) {
        drain(ex);
        reply = Reply.error(e.status, e.getMessage(), e.code);
      } catch (RuntimeException | IOException e) {
        internalErrors.add(e);
        reply = Reply.error(500, "LocalHub: " + e, null);
      }
      if (fault.dropResponse()) {
        return; // applied, but the client never hears of it
      }
      send(ex, kind, reply, download ? fault : Fault.none());
    } catch (IOException | RuntimeException e) {
      internalErrors.add(e);
    } finally {
      ex.close(); // before an answer was sent, or in the middle of a body, this closes the connection
    }
  }

  private static JsonNode body(HttpExchange ex) throws IOException {
    return JSON.readTree(ex.getRequestBody().readAllBytes());
  }

  /** Reads what is left of a request body (a refused upload), so that the answer is read on a clean connection. */
  private static void drain(HttpExchange ex) throws IOException {
    ex.getRequestBody().transferTo(OutputStream.nullOutputStream());
  }

  private static Kind kind(String method, String path) {
    boolean get = method.equals("GET");
    if (method.equals("POST") && CREATE.matcher(path).matches()) {
      return Kind.CREATE;
    } else if (get && REVISION.matcher(path).matches()) {
      return Kind.REVISION;
    } else if (method.equals("POST") && PREUPLOAD.matcher(path).matches()) {
      return Kind.PREUPLOAD;
    } else if (method.equals("POST") && COMMIT.matcher(path).matches()) {
      return Kind.COMMIT;
    } else if (method.equals("POST") && BATCH.matcher(path).matches()) {
      return Kind.BATCH;
    } else if (method.equals("POST") && VERIFY.matcher(path).matches()) {
      return Kind.VERIFY;
    } else if (method.equals("PUT") && UPLOAD.matcher(path).matches()) {
      return Kind.UPLOAD;
    } else if (method.equals("PUT") && PART.matcher(path).matches()) {
      return Kind.PART;
    } else if (method.equals("POST") && COMPLETE.matcher(path).matches()) {
      return Kind.COMPLETE;
    } else if (get && DOWNLOAD.matcher(path).matches()) {
      return Kind.DOWNLOAD;
    } else if ((get || method.equals("HEAD")) && !path.startsWith("/api/") && RESOLVE.matcher(path).matches()) {
      return Kind.RESOLVE;
    }
    return Kind.OTHER;
  }

  private Reply route(Kind kind, HttpExchange ex, String path, Fault fault) throws IOException {
    Matcher m;
    switch (kind) {
      case CREATE:
        requireWrite(ex);
        return create(body(ex));
      case REVISION:
        (m = REVISION.matcher(path)).matches();
        String key = (m.group(1).equals("datasets") ? "datasets/" : "") + decode(m.group(2)) + "/"
            + decode(m.group(3));
        return revision(ex, key, decode(m.group(4)), query(ex).containsKey("blobs"));
      case PREUPLOAD:
        (m = PREUPLOAD.matcher(path)).matches();
        requireWrite(ex);
        return preupload(repoId(m), decode(m.group(3)), body(ex));
      case COMMIT:
        (m = COMMIT.matcher(path)).matches();
        requireWrite(ex);
        String type = ex.getRequestHeaders().getFirst("Content-Type");
        if (type == null || !type.startsWith("application/x-ndjson")) {
          throw new HubError(415, "the commit endpoint takes application/x-ndjson");
        }
        return commit(repoId(m), decode(m.group(3)), new String(ex.getRequestBody().readAllBytes(),
            StandardCharsets.UTF_8));
      case BATCH:
        (m = BATCH.matcher(path)).matches();
        requireWrite(ex);
        String accept = ex.getRequestHeaders().getFirst("Accept");
        if (accept == null || !accept.contains("application/vnd.git-lfs+json")) {
          throw new HubError(406, "Accept: application/vnd.git-lfs+json is required");
        }
        return batch(repoId(m), body(ex));
      case VERIFY:
        (m = VERIFY.matcher(path)).matches();
        requireWrite(ex);
        repo(repoId(m));
        return verify(body(ex));
      case UPLOAD:
        (m = UPLOAD.matcher(path)).matches();
        presigned(ex, path, true);
        return putObject(ex, m.group(1), fault.corrupt());
      case PART:
        (m = PART.matcher(path)).matches();
        presigned(ex, path, true);
        return putPart(ex, m.group(1), Integer.parseInt(m.group(2)), fault.corrupt());
      case COMPLETE:
        (m = COMPLETE.matcher(path)).matches();
        presigned(ex, path, false);
        return complete(m.group(1), body(ex));
      case RESOLVE:
        (m = RESOLVE.matcher(path)).matches();
        String repoKey = (m.group(1) == null ? "" : "datasets/") + decode(m.group(2)) + "/" + decode(m.group(3));
        StringBuilder file = new StringBuilder();
        for (String segment : m.group(5).split("/", -1)) {
          file.append(file.length() == 0 ? "" : "/").append(decode(segment));
        }
        return resolveFile(ex, repoKey, decode(m.group(4)), file.toString(), fault.ignoreRange());
      case DOWNLOAD:
        (m = DOWNLOAD.matcher(path)).matches();
        presigned(ex, path, true);
        return storedObject(ex, m.group(1), fault.ignoreRange());
      default:
        throw new HubError(404, "LocalHub has no " + ex.getRequestMethod() + " " + path);
    }
  }

  // --- authentication ---

  /** null: no token; else whether it may write. */
  private Boolean access(HttpExchange ex) {
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (auth == null) {
      return null;
    }
    Boolean write;
    synchronized (this) {
      write = auth.startsWith("Bearer ") ? tokens.get(auth.substring(7)) : null;
    }
    if (write == null) {
      throw new HubError(401, "Invalid credentials in Authorization header");
    }
    return write;
  }

  private void requireWrite(HttpExchange ex) {
    Boolean write = access(ex);
    if (write == null) {
      throw new HubError(401, "You must be authenticated to access this resource");
    }
    if (!write) {
      throw new HubError(403, "You don't have the rights to write with this token (read-only)");
    }
  }

  /**
   * The repository for a read, as the Hub decides: a private or missing one is 401 without a token (they look the
   * same), 404 with one; a gated one's files need a token it was granted.
   *
   * @param files whether the request reads files (gating applies) rather than metadata
   */
  private Repo readable(HttpExchange ex, String key, boolean files) {
    Boolean access = access(ex);
    Repo r = repos.get(key);
    if (r == null || (r.isPrivate && access == null)) {
      throw new HubError(access == null ? 401 : 404, "Repository not found", "RepoNotFound");
    }
    if (files && r.gatedFor != null) {
      String what = "Access to " + r.type() + " " + r.id + " is restricted";
      if (access == null) {
        throw new HubError(401, what + ". You must have access to it and be authenticated to access it. Please log "
            + "in.", "GatedRepo");
      }
      String token = ex.getRequestHeaders().getFirst("Authorization").substring("Bearer ".length());
      if (!r.gatedFor.contains(token)) {
        throw new HubError(403, what + " and you are not in the authorized list. Visit " + endpoint() + "/"
            + (r.dataset ? "datasets/" : "") + r.id + " to ask for access.", "GatedRepo");
      }
    }
    return r;
  }

  private void presigned(HttpExchange ex, String path, boolean storage) {
    if (storage && ex.getRequestHeaders().containsKey("Authorization")) {
      throw new HubError(400, "InvalidArgument: Only one auth mechanism allowed; only the X-Amz-Algorithm query "
          + "parameter, Signature query string parameter or the Authorization header should be specified");
    }
    Map<String, String> q = query(ex);
    String expires = q.getOrDefault("X-Amz-Expires", "0");
    if (!sign(ex.getRequestMethod(), path, expires).equals(q.get("X-Amz-Signature"))) {
      throw new HubError(403, "SignatureDoesNotMatch");
    }
    if (Long.parseLong(expires) < Instant.now().getEpochSecond()) {
      throw new HubError(403, "AccessDenied: Request has expired");
    }
  }

  private URI presignedUrl(String method, String path) {
    String expires = String.valueOf(Instant.now().getEpochSecond() + URL_LIFETIME_SECONDS);
    return URI.create(endpoint() + path + "?X-Amz-Expires=" + expires + "&X-Amz-Signature="
        + sign(method, path, expires));
  }

  private String sign(String method, String path, String expires) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(signingKey, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal((method + "\n" + path + "\n" + expires)
          .getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  // --- repositories ---

  private synchronized Reply create(JsonNode body) {
    String name = body.path("name").asText();
    String org = body.path("organization").asText();
    String type = body.path("type").asText("model");
    if (!NAME.matcher(name).matches() || !NAME.matcher(org).matches()) {
      throw new HubError(400, "invalid repository name: " + org + "/" + name);
    }
    if (!type.equals("model") && !type.equals("dataset")) {
      throw new HubError(400, "LocalHub models model and dataset repositories only, not " + type);
    }
    String id = org + "/" + name;
    String key = (type.equals("dataset") ? "datasets/" : "") + id;
    if (repos.containsKey(key)) {
      return Reply.json(409, Map.of("error", "You already created this " + type + " repo", "url",
          endpoint() + "/" + key));
    }
    createRepo(key, body.path("private").asBoolean(false));
    return Reply.json(200, Map.of("url", endpoint() + "/" + key, "name", id));
  }

  private synchronized Reply revision(HttpExchange ex, String key, String rev, boolean blobs) {
    Repo r = readable(ex, key, false);
    String sha = resolve(r, rev);
    ObjectNode out = JSON.createObjectNode().put("id", r.id);
    if (!r.dataset) {
      out.put("modelId", r.id);
    }
    out.put("sha", sha).put("private", r.isPrivate);
    if (r.gatedFor == null) {
      out.put("gated", false);
    } else {
      out.put("gated", "manual");
    }
    ArrayNode siblings = out.putArray("siblings");
    r.commits.get(sha).tree().forEach((path, e) -> {
      ObjectNode s = siblings.addObject().put("rfilename", path);
      if (blobs) {
        s.put("blobId", blobId(e)).put("size", e.size());
        if (e.lfs()) {
          s.putObject("lfs").put("sha256", e.oid()).put("size", e.size())
              .put("pointerSize", pointer(e).length());
        }
      }
    });
    return Reply.json(200, out);
  }

  /** A branch, then a tag, then a full commit sha. */
  private static String resolve(Repo r, String rev) {
    String sha = r.branches.get(rev);
    if (sha == null) {
      sha = r.tags.get(rev);
    }
    if (sha == null && SHA.matcher(rev).matches() && r.commits.containsKey(rev)) {
      sha = rev;
    }
    if (sha == null) {
      throw new HubError(404, "Invalid rev id: " + rev, "RevisionNotFound");
    }
    return sha;
  }

  private Repo repo(String id) {
    Repo r;
    synchronized (this) {
      r = repos.get(id);
    }
    if (r == null) {
      throw new HubError(404, "Repository not found", "RepoNotFound");
    }
    return r;
  }

  // --- downloads: resolve, storage ---

  private Reply resolveFile(HttpExchange ex, String key, String rev, String path, boolean ignoreRange) {
    Entry e;
    String sha;
    synchronized (this) {
      Repo r = readable(ex, key, true);
      sha = resolve(r, rev);
      e = r.commits.get(sha).tree().get(path);
    }
    if (e == null) {
      throw new HubError(404, "Entry not found", "EntryNotFound");
    }
    Map<String, String> h = new LinkedHashMap<>();
    h.put("X-Repo-Commit", sha);
    h.put("ETag", "\"" + blobId(e) + "\"");
    if (e.lfs()) {
      // like the Hub: the object's identity and size, and where it is; the client follows without its token
      h.put("X-Linked-Etag", "\"" + e.oid() + "\"");
      h.put("X-Linked-Size", String.valueOf(e.size()));
      h.put("Location", presignedUrl("GET", "/storage/lfs/" + e.oid()).toString());
      return new Reply(302, h, new byte[0]);
    }
    h.put("Content-Type", "application/octet-stream");
    return content(ex, h, e.content(), null, e.size(), ignoreRange);
  }

  private Reply storedObject(HttpExchange ex, String oid, boolean ignoreRange) {
    Long size;
    synchronized (this) {
      size = objects.get(oid);
    }
    if (size == null) {
      throw new HubError(404, "NoSuchKey");
    }
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Content-Type", "application/octet-stream");
    h.put("ETag", "\"" + oid + "\"");
    return content(ex, h, null, objectFile(oid), size, ignoreRange);
  }

  /** The whole content (200) or the one range asked for (206), or 416 when the range starts past the end. */
  private static Reply content(HttpExchange ex, Map<String, String> headers, byte[] inline, Path file, long size,
      boolean ignoreRange) {
    headers.put("Accept-Ranges", "bytes");
    String range = ignoreRange ? null : ex.getRequestHeaders().getFirst("Range");
    Matcher m = range == null ? null : RANGE.matcher(range.strip());
    if (m == null || !m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
      return new Reply(200, headers, inline, file, 0, size);
    }
    long from;
    long to;
    if (m.group(1).isEmpty()) {
      from = Math.max(0, size - Long.parseLong(m.group(2)));
      to = size - 1;
    } else {
      from = Long.parseLong(m.group(1));
      to = m.group(2).isEmpty() ? size - 1 : Math.min(Long.parseLong(m.group(2)), size - 1);
    }
    if (from >= size || to < from) {
      headers.put("Content-Range", "bytes */" + size);
      return new Reply(416, headers, new byte[0]);
    }
    headers.put("Content-Range", "bytes " + from + "-" + to + "/" + size);
    return new Reply(206, headers, inline, file, from, to - from + 1);
  }

  // --- pre-upload ---

  private synchronized Reply preupload(String id, String rev, JsonNode body) {
    Repo r = repo(id);
    Map<String, Entry> tree = r.commits.get(resolve(r, rev)).tree();
    List<PathMatcherLine> lfsPatterns = lfsPatterns(tree);
    ArrayNode files = JSON.createArrayNode();
    for (JsonNode f : body.path("files")) {
      String path = validPath(f.path("path").asText());
      long size = f.path("size").asLong(-1);
      byte[] sample = Base64.getDecoder().decode(f.path("sample").asText(""));
      boolean lfs = size > lfsThreshold || lfsPatterns.stream().anyMatch(p -> p.matches(path))
          || binary(sample, sample.length == SAMPLE_BYTES);
      ObjectNode a = files.addObject().put("path", path).put("uploadMode", lfs ? "lfs" : "regular")
          .put("shouldIgnore", false);
      Entry existing = tree.get(path);
      if (existing != null) {
        a.put("oid", existing.lfs() ? existing.oid() : gitBlobId(existing.content()));
      }
    }
    ObjectNode out = JSON.createObjectNode();
    out.set("files", files);
    out.put("commitOid", r.branches.get(rev));
    return Reply.json(200, out);
  }

  /** A glob of .gitattributes with filter=lfs; patterns without a slash match the file name, like git. */
  private record PathMatcherLine(String glob) {
    boolean matches(String path) {
      String target = glob.contains("/") ? path : path.substring(path.lastIndexOf('/') + 1);
      return FileSystems.getDefault().getPathMatcher("glob:" + glob).matches(Path.of(target));
    }
  }

  private static List<PathMatcherLine> lfsPatterns(Map<String, Entry> tree) {
    Entry attributes = tree.get(GITATTRIBUTES);
    List<PathMatcherLine> out = new ArrayList<>();
    if (attributes != null && !attributes.lfs()) {
      for (String line : new String(attributes.content(), StandardCharsets.UTF_8).split("\n")) {
        String[] words = line.strip().split("\\s+");
        if (words.length > 1 && List.of(words).contains("filter=lfs")) {
          out.add(new PathMatcherLine(words[0]));
        }
      }
    }
    return out;
  }

  /**
   * The Hub's guess: binary when the bytes have a NUL or are not UTF-8; a sample ({@code cut}) may end in the middle
   * of a character.
   */
  private static boolean binary(byte[] sample, boolean cut) {
    for (byte b : sample) {
      if (b == 0) {
        return true;
      }
    }
    for (int drop = 0; drop <= (cut ? Math.min(3, sample.length) : 0); drop++) {
      try {
        StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(sample, 0, sample.length - drop));
        return false;
      } catch (CharacterCodingException e) {
        // try without the last bytes: they may be the start of a character the sample cut
      }
    }
    return true;
  }

  // --- LFS batch, storage, completion, verify ---

  private synchronized Reply batch(String id, JsonNode body) {
    repo(id);
    if (!"upload".equals(body.path("operation").asText())) {
      throw new HubError(400, "LocalHub models the upload operation only");
    }
    if (body.has("hash_algo") && !"sha256".equals(body.path("hash_algo").asText())) {
      throw new HubError(409, "unsupported hash algorithm " + body.path("hash_algo").asText());
    }
    boolean multipartOffered = false;
    for (JsonNode t : body.path("transfers")) {
      multipartOffered |= t.asText().equals("multipart");
    }
    ArrayNode out = JSON.createArrayNode();
    for (JsonNode o : body.path("objects")) {
      String oid = o.path("oid").asText();
      long size = o.path("size").asLong(-1);
      ObjectNode a = out.addObject().put("oid", oid).put("size", size);
      if (!OID.matcher(oid).matches() || size < 0) {
        a.putObject("error").put("code", 422).put("message", "Invalid object: oid " + oid + ", size " + size);
        continue;
      }
      if (Long.valueOf(size).equals(objects.get(oid))) {
        continue; // already stored: no actions
      }
      String uploadId = newId();
      ObjectNode actions = a.putObject("actions");
      ObjectNode upload = actions.putObject("upload");
      long chunk = chunkSize;
      if (multipartOffered && size > chunk) {
        int parts = (int) ((size + chunk - 1) / chunk);
        uploads.put(uploadId, new Upload(uploadId, oid, size, parts));
        upload.put("href", presignedUrl("POST", "/api/complete_multipart/" + uploadId).toString());
        ObjectNode header = upload.putObject("header").put("chunk_size", String.valueOf(chunk));
        for (int p = 1; p <= parts; p++) {
          header.put(String.format(Locale.ROOT, "%05d", p),
              presignedUrl("PUT", "/storage/parts/" + uploadId + "/" + p).toString());
        }
      } else {
        uploads.put(uploadId, new Upload(uploadId, oid, size, 1));
        upload.put("href", presignedUrl("PUT", "/storage/objects/" + uploadId).toString());
      }
      upload.put("expires_in", URL_LIFETIME_SECONDS);
      actions.putObject("verify").put("href", endpoint() + "/" + id + ".git/info/lfs/objects/verify");
    }
    ObjectNode answer = JSON.createObjectNode().put("transfer", multipartOffered ? "multipart" : "basic");
    answer.set("objects", out);
    try {
      return new Reply(200, Map.of("Content-Type", "application/vnd.git-lfs+json"), JSON.writeValueAsBytes(answer));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private Reply putObject(HttpExchange ex, String uploadId, boolean corrupt) throws IOException {
    Upload u = upload(uploadId);
    requireLength(ex);
    Path tmp = Files.createTempFile(storage, "put-", ".tmp");
    byte[][] digests = receive(ex.getRequestBody(), tmp, corrupt);
    synchronized (this) {
      store(u, tmp, digests[0], Files.size(tmp));
    }
    return new Reply(200, Map.of("ETag", "\"" + HexFormat.of().formatHex(digests[1]) + "\""), new byte[0]);
  }

  private Reply putPart(HttpExchange ex, String uploadId, int part, boolean corrupt) throws IOException {
    Upload u = upload(uploadId);
    requireLength(ex);
    if (part < 1 || part > u.parts) {
      throw new HubError(400, "InvalidArgument: part number " + part + " is not in [1, " + u.parts + "]");
    }
    Path tmp = Files.createTempFile(storage, "part-", ".tmp");
    byte[][] digests = receive(ex.getRequestBody(), tmp, corrupt);
    String etag = "\"" + HexFormat.of().formatHex(digests[1]) + "\"";
    synchronized (this) {
      Path old = u.partFiles.put(part, tmp);
      if (old != null) {
        Files.deleteIfExists(old);
      }
      u.etags.put(part, etag);
    }
    return new Reply(200, Map.of("ETag", etag), new byte[0]);
  }

  private Reply complete(String uploadId, JsonNode body) throws IOException {
    Upload u = upload(uploadId);
    synchronized (this) {
      if (!u.oid.equals(body.path("oid").asText())) {
        throw new HubError(400, "oid " + body.path("oid").asText() + " is not the oid of this upload");
      }
      if (u.completed) {
        return Reply.json(200, Map.of("oid", u.oid));
      }
      JsonNode parts = body.path("parts");
      if (parts.size() != u.parts) {
        throw new HubError(400, "InvalidPart: " + parts.size() + " parts listed, " + u.parts + " expected");
      }
      Path tmp = Files.createTempFile(storage, "assembled-", ".tmp");
      MessageDigest sha = digest("SHA-256");
      try (OutputStream out = Files.newOutputStream(tmp)) {
        for (int i = 0; i < parts.size(); i++) {
          JsonNode p = parts.get(i);
          int number = p.path("partNumber").asInt();
          if (number != i + 1) {
            throw new HubError(400, "InvalidPartOrder: part " + number + " listed at position " + (i + 1));
          }
          Path file = u.partFiles.get(number);
          if (file == null || !p.path("etag").asText().equals(u.etags.get(number))) {
            throw new HubError(400, "InvalidPart: part " + number + " was not uploaded with ETag "
                + p.path("etag").asText());
          }
          long size = Files.size(file);
          if (number < u.parts ? size != chunkSize : size > chunkSize) {
            throw new HubError(400, "EntityTooSmall: part " + number + " has " + size + " bytes, chunk_size is "
                + chunkSize);
          }
          try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) != -1; ) {
              sha.update(buf, 0, n);
              out.write(buf, 0, n);
            }
          }
        }
      }
      store(u, tmp, sha.digest(), Files.size(tmp));
      for (Path p : u.partFiles.values()) {
        Files.deleteIfExists(p);
      }
      u.completed = true;
      return Reply.json(200, Map.of("oid", u.oid));
    }
  }

  /** Keeps the bytes as the object {@code u.oid} only when they hash to it with the announced size. */
  private void store(Upload u, Path tmp, byte[] sha256, long size) throws IOException {
    String actual = HexFormat.of().formatHex(sha256);
    if (actual.equals(u.oid) && size == u.size) {
      Files.move(tmp, objectFile(u.oid), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      objects.put(u.oid, size);
      mismatches.remove(u.oid);
    } else {
      Files.delete(tmp);
      mismatches.put(u.oid, "received " + size + " bytes with sha256 " + actual);
    }
  }

  private synchronized Reply verify(JsonNode body) {
    String oid = body.path("oid").asText();
    long size = body.path("size").asLong(-1);
    Long stored = objects.get(oid);
    if (stored != null && stored == size) {
      return Reply.json(200, Map.of("oid", oid));
    }
    if (stored != null || mismatches.containsKey(oid)) {
      throw new HubError(422, "object " + oid + " does not match: " + (stored != null ? "stored with " + stored
          + " bytes" : mismatches.get(oid)) + ", expected " + size + " bytes");
    }
    throw new HubError(404, "object " + oid + " was not uploaded");
  }

  private Upload upload(String id) {
    Upload u;
    synchronized (this) {
      u = uploads.get(id);
    }
    if (u == null) {
      throw new HubError(404, "NoSuchUpload");
    }
    return u;
  }

  private static void requireLength(HttpExchange ex) {
    if (ex.getRequestHeaders().getFirst("Content-Length") == null) {
      throw new HubError(411, "MissingContentLength");
    }
  }

  /** Copies a request body to {@code file} (the first byte flipped when {@code corrupt}): its sha256 and md5. */
  private static byte[][] receive(InputStream body, Path file, boolean corrupt) throws IOException {
    MessageDigest sha = digest("SHA-256");
    MessageDigest md5 = digest("MD5");
    try (OutputStream out = Files.newOutputStream(file)) {
      byte[] buf = new byte[1 << 16];
      boolean first = corrupt;
      for (int n; (n = body.read(buf)) != -1; ) {
        if (first && n > 0) {
          buf[0] ^= 0x5a;
          first = false;
        }
        sha.update(buf, 0, n);
        md5.update(buf, 0, n);
        out.write(buf, 0, n);
      }
    }
    return new byte[][] {sha.digest(), md5.digest()};
  }

  private Path objectFile(String oid) {
    return storage.resolve("object-" + oid);
  }

  // --- commit ---

  private synchronized Reply commit(String id, String rev, String ndjson) throws IOException {
    Repo r = repo(id);
    String head = r.branches.get(rev);
    if (head == null) {
      throw new HubError(404, "Invalid rev id: " + rev, "RevisionNotFound");
    }
    List<String> lines = ndjson.lines().filter(l -> !l.isBlank()).toList();
    if (lines.isEmpty()) {
      throw new HubError(400, "empty commit payload");
    }
    JsonNode header = JSON.readTree(lines.get(0));
    if (!"header".equals(header.path("key").asText())) {
      throw new HubError(400, "the first line must be the header");
    }
    String summary = header.path("value").path("summary").asText("");
    if (summary.isBlank()) {
      throw new HubError(400, "summary is required");
    }
    String parent = header.path("value").path("parentCommit").asText(null);
    if (parent != null && !(parent.length() >= 7 && head.startsWith(parent))) {
      throw new HubError(412, "A commit has happened since. Please refresh and try again.");
    }
    Map<String, Entry> tree = new TreeMap<>(r.commits.get(head).tree());
    List<String> newLfsPaths = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      JsonNode op = JSON.readTree(line);
      JsonNode v = op.path("value");
      String path = validPath(v.path("path").asText());
      switch (op.path("key").asText()) {
        case "file" -> {
          String encoding = v.path("encoding").asText("utf-8");
          byte[] content = encoding.equals("base64") ? Base64.getDecoder().decode(v.path("content").asText())
              : v.path("content").asText().getBytes(StandardCharsets.UTF_8);
          if (content.length > lfsThreshold || binary(content, false)) {
            throw new HubError(400, "Your push was rejected because it contains binary files or files larger than "
                + lfsThreshold + " bytes: " + path + ". Please use LFS");
          }
          tree.put(path, new Entry(content, null, content.length));
        }
        case "lfsFile" -> {
          String oid = v.path("oid").asText();
          long size = v.path("size").asLong(-1);
          if (!"sha256".equals(v.path("algo").asText()) || !Long.valueOf(size).equals(objects.get(oid))) {
            throw new HubError(400, "Your push was rejected because an LFS pointer pointed to a file that does not "
                + "exist: " + path + " (oid " + oid + ", " + size + " bytes)");
          }
          tree.put(path, new Entry(null, oid, size));
          newLfsPaths.add(path);
        }
        case "deletedFile" -> {
          if (tree.remove(path) == null) {
            throw new HubError(404, "A file with this name doesn't exist: " + path);
          }
        }
        case "deletedFolder" -> {
          if (!tree.keySet().removeIf(p -> p.startsWith(path.endsWith("/") ? path : path + "/"))) {
            throw new HubError(404, "A folder with this name doesn't exist: " + path);
          }
        }
        default -> throw new HubError(400, "unknown operation " + op.path("key").asText());
      }
    }
    // the Hub tracks committed LFS paths that no pattern covers in .gitattributes
    List<PathMatcherLine> patterns = lfsPatterns(tree);
    StringBuilder extra = new StringBuilder();
    for (String p : newLfsPaths) {
      if (patterns.stream().noneMatch(m -> m.matches(p))) {
        extra.append(p).append(" filter=lfs diff=lfs merge=lfs -text\n");
      }
    }
    if (extra.length() > 0) {
      Entry a = tree.get(GITATTRIBUTES);
      byte[] content = ((a == null ? "" : new String(a.content(), StandardCharsets.UTF_8)) + extra)
          .getBytes(StandardCharsets.UTF_8);
      tree.put(GITATTRIBUTES, new Entry(content, null, content.length));
    }
    String sha = newCommit(r, rev, summary, header.path("value").path("description").asText(""), tree);
    ObjectNode out = JSON.createObjectNode().put("success", true).put("commitOid", sha)
        .put("commitUrl", endpoint() + "/" + id + "/commit/" + sha).put("hookOutput", "");
    out.putNull("pullRequestUrl");
    return Reply.json(200, out);
  }

  private String newCommit(Repo r, String branch, String summary, String description, Map<String, Entry> tree) {
    String parent = r.branches.get(branch);
    String sha = HexFormat.of().formatHex(digest("SHA-1").digest((parent + "\n" + summary + "\n" + newId())
        .getBytes(StandardCharsets.UTF_8)));
    r.commits.put(sha, new Commit(sha, parent, summary, description, Map.copyOf(tree)));
    r.branches.put(branch, sha);
    return sha;
  }

  private static String validPath(String path) {
    if (path.isEmpty() || path.startsWith("/") || path.endsWith("/") || path.contains("\\")
        || List.of(path.split("/")).stream().anyMatch(s -> s.isEmpty() || s.equals(".") || s.equals(".."))) {
      throw new HubError(400, "invalid path in repository: \"" + path + "\"");
    }
    return path;
  }

  // --- helpers ---

  private static String pointer(Entry e) {
    return "version https://git-lfs.github.com/spec/v1\noid sha256:" + e.oid() + "\nsize " + e.size() + "\n";
  }

  /** The git blob id of a file: of its content, or of its pointer for an LFS file. */
  private static String blobId(Entry e) {
    return gitBlobId(e.lfs() ? pointer(e).getBytes(StandardCharsets.US_ASCII) : e.content());
  }

  private static String gitBlobId(byte[] content) {
    MessageDigest sha1 = digest("SHA-1");
    sha1.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
    return HexFormat.of().formatHex(sha1.digest(content));
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private String newId() {
    byte[] b = new byte[16];
    synchronized (random) {
      random.nextBytes(b);
    }
    return HexFormat.of().formatHex(b);
  }

  private static String repoId(Matcher m) {
    return decode(m.group(1)) + "/" + decode(m.group(2));
  }

  private static String decode(String segment) {
    return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static Map<String, String> query(HttpExchange ex) {
    Map<String, String> out = new HashMap<>();
    String q = ex.getRequestURI().getRawQuery();
    if (q != null) {
      for (String kv : q.split("&")) {
        int eq = kv.indexOf('=');
        out.put(decode(eq < 0 ? kv : kv.substring(0, eq)), eq < 0 ? "" : decode(kv.substring(eq + 1)));
      }
    }
    return out;
  }

  private void send(HttpExchange ex, Kind kind, Reply reply, Fault fault) throws IOException {
    reply.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
    if (reply.status() >= 400 && reply.body() != null && reply.body().length > 0) {
      // the Hub repeats its error text in this header; huggingface_hub prefers it
      ex.getResponseHeaders().add("X-Error-Message", JSON.readTree(reply.body()).path("error").asText());
    }
    if (ex.getRequestMethod().equals("HEAD")) {
      // the length the GET would have; the server itself sends no body to a HEAD
      if (reply.status() / 100 == 2) {
        ex.getResponseHeaders().set("Content-Length", String.valueOf(reply.length()));
      }
      ex.sendResponseHeaders(reply.status(), -1);
      return;
    }
    ex.sendResponseHeaders(reply.status(), reply.length() == 0 ? -1 : reply.length());
    if (reply.length() == 0) {
      return;
    }
    long limit = fault.cutAfterBytes() >= 0 ? Math.min(fault.cutAfterBytes(), reply.length()) : reply.length();
    OutputStream out = ex.getResponseBody();
    byte[] buf = new byte[1 << 16];
    boolean flip = fault.corrupt();
    long sent = 0;
    try (InputStream in = reply.file() != null ? slice(reply.file(), reply.offset())
        : new ByteArrayInputStream(reply.body(), (int) reply.offset(), (int) reply.length())) {
      while (sent < limit) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, limit - sent));
        if (n == -1) {
          throw new IOException("LocalHub: the body ended " + (limit - sent) + " bytes early");
        }
        if (flip) {
          buf[0] ^= 0x5a;
          flip = false;
        }
        out.write(buf, 0, n);
        sent += n;
        served.get(kind).addAndGet(n);
      }
    }
    // a cut body ends here: ex.close() in handle() finds it incomplete and closes the connection
    out.flush();
    if (sent < reply.length() && fault.pauseMillis() > 0) {
      try {
        Thread.sleep(fault.pauseMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static InputStream slice(Path file, long offset) throws IOException {
    FileChannel ch = FileChannel.open(file);
    ch.position(offset);
    return Channels.newInputStream(ch);
  }
}
