package io.pose.trainer.publish;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.publish.HubFiles.LocalFile;
import io.pose.trainer.publish.HubLfs.LfsObject;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import io.pose.trainer.storage.hub.HubHttp;
import io.pose.trainer.storage.hub.HubHttp.Auth;
import io.pose.trainer.storage.hub.HubHttp.Backoff;
import io.pose.trainer.storage.hub.HubHttp.Response;
import io.pose.trainer.storage.hub.HubRevision;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Publishes a tree to a Hugging Face Hub model repository ({@code hf://org/name[@branch]}) in one commit, with the
 * protocol of huggingface_hub's {@code create_commit}:
 *
 * <ol>
 *   <li>{@code POST /api/repos/create} {@code {name, organization, type: "model", private}}; 409 means it exists.
 *   <li>{@code GET /api/models/{repo}/revision/{branch}?blobs=true}: the branch head (the new commit's parent) and
 *       its files with their blob ids and LFS sha256s.
 *   <li>{@code POST /api/models/{repo}/preupload/{branch}} {@code {files: [{path, size, sample}]}}: the Hub decides
 *       per file between "lfs" and "regular" (inline) and whether its .gitignore drops the file.
 *   <li>{@code POST /{repo}.git/info/lfs/objects/batch} then the upload actions it returns (one PUT, or presigned
 *       part PUTs and a completion POST) and the verify action: see {@link HubLfs}.
 *   <li>{@code POST /api/models/{repo}/commit/{branch}}, {@code application/x-ndjson}: a header line {@code {summary,
 *       description, parentCommit}}, then {@code deletedFile} for files of the parent that the tree no longer has
 *       (the Hub's own {@code .gitattributes} stays), {@code file} (base64) per regular file and {@code lfsFile}
 *       {@code {path, algo: sha256, oid, size}} per LFS file. Its {@code commitOid} is the returned revision.
 * </ol>
 *
 * <p>The commit is the only request that changes the repository's tree, and the Hub applies it atomically: an
 * interrupted or failed publish leaves the branch where it was (uploaded LFS objects stay invisible until a commit
 * names them, and the next publish finds them already uploaded). {@code parentCommit} makes the commit fail (412)
 * if anything else moved the branch meanwhile; a retried commit whose first try landed although its answer was lost
 * meets the same 412, and is recognised because the branch head then holds exactly the tree. A tree the head already
 * holds is not committed again: the head is returned.
 *
 * <p>Integrity: sha256 of every LFS file is computed locally, streaming, and sent as the object's oid; the Hub checks
 * it on verify and on commit. Inline files are identified by their git blob id. The tree must not change while it is
 * published.
 *
 * <p>Every request is retried on 408, 429, 5xx and connection errors ({@link HubHttp}). The token (Secret key
 * {@code token}) goes as a bearer token to the endpoint only; 401/403 become a {@link CredentialsException} that
 * never carries it.
 */
public final class HubTarget implements PublishTarget {

  public static final URI DEFAULT_ENDPOINT = HubHttp.DEFAULT_ENDPOINT;
  static final System.Logger LOG = System.getLogger(HubTarget.class.getName());
  /** The file the Hub creates with a repository and keeps up to date with LFS paths: never deleted by a publish. */
  static final String GITATTRIBUTES = ".gitattributes";
  /** huggingface_hub asks the pre-upload endpoint about at most this many files per request. */
  private static final int PREUPLOAD_BATCH = 256;

  private final StorageUri target;
  private final String repo;
  private final String revision;
  private final Credentials credentials;
  private final URI endpoint;
  private final boolean privateRepo;
  private final Backoff backoff;
  private final HttpClient client;

  /** The endpoint from {@code HF_ENDPOINT}, else {@link #DEFAULT_ENDPOINT}. */
  public HubTarget(StorageUri target, Credentials credentials, boolean privateRepo) {
    this(target, credentials, endpoint(System.getenv()), privateRepo);
  }

  /**
   * @param target {@code hf://org/name[@branch]}; the branch defaults to main
   * @param credentials the Secret with the key {@code token} (a write token)
   * @param privateRepo whether to create the repository as private (an existing one keeps its visibility)
   */
  public HubTarget(StorageUri target, Credentials credentials, URI endpoint, boolean privateRepo) {
    this(target, credentials, endpoint, privateRepo, Backoff.defaults());
  }

  HubTarget(StorageUri target, Credentials credentials, URI endpoint, boolean privateRepo, Backoff backoff) {
    if (target.scheme() != StorageUri.Scheme.HF || target.dataset() || !target.path().isEmpty()) {
      throw new IllegalArgumentException(target + ": a Hub publish target is a model repository, hf://org/name");
    }
    if (target.reference() != null && HubRevision.COMMIT_SHA.matcher(target.reference()).matches()) {
      throw new IllegalArgumentException(target + ": a publish target's revision must be a branch, not a commit");
    }
    this.target = target;
    this.repo = target.authority();
    this.revision = target.reference() == null ? "main" : target.reference();
    this.credentials = credentials;
    String e = endpoint.toString();
    this.endpoint = URI.create(e.endsWith("/") ? e.substring(0, e.length() - 1) : e);
    this.privateRepo = privateRepo;
    this.backoff = backoff;
    this.client = HubHttp.newClient();
  }

  /** {@code HF_ENDPOINT} from the environment (as huggingface_hub reads it), else https://huggingface.co. */
  public static URI endpoint(Map<String, String> environment) {
    return HubHttp.endpoint(environment);
  }

  @Override
  public Published publish(Path tree, String message) throws IOException {
    if (message == null || message.isBlank()) {
      throw new IllegalArgumentException("a Hub commit needs a message");
    }
    String token = credentials.require("token", "publishing to " + target);
    int newline = message.strip().indexOf('\n');
    String summary = newline < 0 ? message.strip() : message.strip().substring(0, newline).strip();
    String description = newline < 0 ? "" : message.strip().substring(newline + 1).strip();

    List<LocalFile> files = HubFiles.scan(tree);
    if (files.isEmpty()) {
      throw new IOException(tree + ": nothing to publish (no files)");
    }
    HubHttp http = new HubHttp(client, endpoint, token, repo, backoff, LOG);
    CredentialsException createDenied = createRepo(http);
    Head head = head(http, createDenied);
    List<Planned> plan = plan(http, files);
    TreeSet<String> deletions = deletions(head, files);
    if (deletions.isEmpty() && plan.stream().allMatch(p -> p.isAt(head))) {
      LOG.log(System.Logger.Level.INFO, "{0}: {1} already holds this tree at {2}", target, revision, head.sha);
      return new Published(target.uri(), head.sha);
    }
    List<LfsObject> lfs = new ArrayList<>();
    for (Planned p : plan) {
      if (p.lfs) {
        lfs.add(new LfsObject(p.id, p.file));
      }
    }
    LOG.log(System.Logger.Level.INFO, "{0}: {1} files, {2} of them by LFS, {3} deletions",
        target, plan.size(), lfs.size(), deletions.size());
    new HubLfs(http, repo, revision).upload(lfs);
    String commit = commit(http, head, plan, deletions, files, summary, description);
    LOG.log(System.Logger.Level.INFO, "{0}: committed {1}", target, commit);
    return new Published(target.uri(), commit);
  }

  /** @return the refusal when the token may not create repositories (the repository may exist all the same) */
  private CredentialsException createRepo(HubHttp http) throws IOException {
    int slash = repo.indexOf('/');
    ObjectNode body = HubHttp.JSON.createObjectNode()
        .put("name", repo.substring(slash + 1))
        .put("organization", repo.substring(0, slash))
        .put("type", "model")
        .put("private", privateRepo);
    byte[] json = HubHttp.JSON.writeValueAsBytes(body);
    Response r;
    try {
      r = http.send("create " + repo, Auth.HUB, () -> api("/api/repos/create")
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(json)));
    } catch (CredentialsException denied) {
      // like huggingface_hub's exist_ok: a token without the right to create may still write to an existing repo
      return denied;
    }
    if (r.status() == 409) {
      LOG.log(System.Logger.Level.DEBUG, "{0} exists", repo);
    } else if (r.ok()) {
      LOG.log(System.Logger.Level.INFO, "created {0} ({1})", repo, privateRepo ? "private" : "public");
    } else {
      throw new IOException("create " + repo + ": " + r.message());
    }
    return null;
  }

  /** The branch head and its files by path. */
  private record Head(String sha, Map<String, HubRevision.File> files) {}

  private Head head(HubHttp http, CredentialsException createDenied) throws IOException {
    Response r = http.send("revision " + revision + " of " + repo, Auth.HUB,
        () -> api(HubRevision.apiPath(false, repo, revision)).GET());
    if (r.status() == 404 && createDenied != null) {
      throw createDenied;
    }
    if (r.status() == 404) {
      throw new IOException(target + ": the repository has no branch \"" + revision + "\" (" + r.message()
          + "); create it on the Hub first");
    }
    if (!r.ok()) {
      throw new IOException("revision " + revision + " of " + repo + ": " + r.message());
    }
    HubRevision head = HubRevision.parse(r.json(), "revision " + revision + " of " + repo);
    Map<String, HubRevision.File> files = new HashMap<>();
    head.files().forEach(f -> files.put(f.path(), f));
    return new Head(head.sha(), files);
  }

  /** A file to commit: by LFS (id = sha256) or inline (id = git blob id). */
  private record Planned(LocalFile file, boolean lfs, String id) {
    boolean isAt(Head head) {
      HubRevision.File r = head.files.get(file.path());
      if (r == null) {
        return false;
      }
      return lfs ? id.equals(r.lfsSha256()) && r.size() == file.size() : r.lfsSha256() == null && id.equals(r.blobId());
    }
  }

  /** Asks the Hub which files go by LFS and which it ignores, then hashes each as its mode needs. */
  private List<Planned> plan(HubHttp http, List<LocalFile> files) throws IOException {
    Map<String, JsonNode> answers = new HashMap<>();
    for (int from = 0; from < files.size(); from += PREUPLOAD_BATCH) {
      List<LocalFile> chunk = files.subList(from, Math.min(files.size(), from + PREUPLOAD_BATCH));
      ObjectNode body = HubHttp.JSON.createObjectNode();
      ArrayNode list = body.putArray("files");
      for (LocalFile f : chunk) {
        list.addObject().put("path", f.path()).put("size", f.size())
            .put("sample", Base64.getEncoder().encodeToString(f.sample()));
      }
      byte[] json = HubHttp.JSON.writeValueAsBytes(body);
      Response r = http.send("pre-upload of " + chunk.size() + " file(s)", Auth.HUB,
          () -> api("/api/models/" + repo + "/preupload/" + HubHttp.segment(revision))
              .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(json)));
      if (!r.ok()) {
        throw new IOException("pre-upload to " + repo + ": " + r.message());
      }
      for (JsonNode f : r.json().path("files")) {
        answers.put(f.path("path").asText(), f);
      }
    }
    List<Planned> plan = new ArrayList<>();
    for (LocalFile f : files) {
      JsonNode a = answers.get(f.path());
      String mode = a == null ? null : a.path("uploadMode").asText();
      if (!"lfs".equals(mode) && !"regular".equals(mode)) {
        throw new IOException("pre-upload to " + repo + ": no upload mode for " + f.path());
      }
      if (a.path("shouldIgnore").asBoolean(false)) {
        LOG.log(System.Logger.Level.WARNING, "{0}: not published: the repository''s .gitignore excludes it",
            f.path());
        continue;
      }
      // like huggingface_hub: storage refuses empty LFS objects, so empty files go inline
      boolean lfs = "lfs".equals(mode) && f.size() > 0;
      if (!lfs && f.size() > Integer.MAX_VALUE) {
        throw new IOException(f.path() + ": the Hub asked to inline a file of " + f.size() + " bytes");
      }
      plan.add(new Planned(f, lfs, lfs ? HubFiles.sha256(f) : HubFiles.gitBlobId(f)));
    }
    return plan;
  }

  /** Files of the head that the tree does not have (ignored files of the tree count as had). */
  private static TreeSet<String> deletions(Head head, List<LocalFile> files) {
    TreeSet<String> gone = new TreeSet<>(head.files.keySet());
    files.forEach(f -> gone.remove(f.path()));
    gone.remove(GITATTRIBUTES);
    return gone;
  }

  private String commit(HubHttp http, Head head, List<Planned> plan, TreeSet<String> deletions,
      List<LocalFile> files, String summary, String description) throws IOException {
    Path body = Files.createTempFile("pose-hub-commit-", ".ndjson");
    try {
      writeCommit(body, head.sha, plan, deletions, summary, description);
      Response r = http.send("commit to " + repo, Auth.HUB, () -> api("/api/models/" + repo + "/commit/"
          + HubHttp.segment(revision)).timeout(Duration.ofMinutes(10)).header("Content-Type", "application/x-ndjson")
          .POST(ofFile(body)));
      if (r.status() == 412) {
        // the branch moved: our own earlier try whose answer was lost, or someone else's commit
        Head now = head(http, null);
        if (deletions(now, files).isEmpty() && plan.stream().allMatch(p -> p.isAt(now))) {
          LOG.log(System.Logger.Level.INFO, "{0}: the commit landed on an earlier try", target);
          return now.sha;
        }
        throw new IOException("commit to " + repo + ": " + revision + " moved from " + head.sha + " to " + now.sha
            + " during the publish (another commit); publish again");
      }
      if (!r.ok()) {
        throw new IOException("commit to " + repo + ": " + r.message());
      }
      String oid = r.json().path("commitOid").asText();
      if (!HubRevision.COMMIT_SHA.matcher(oid).matches()) {
        throw new IOException("commit to " + repo + ": the Hub answered without a commit sha");
      }
      return oid;
    } finally {
      Files.deleteIfExists(body);
    }
  }

  /**
   * The commit as ndjson, written to a file: inline files are base64-encoded while streaming, so the body is never
   * held in memory and every retry sends it again from the file.
   */
  private static void writeCommit(Path body, String parent, List<Planned> plan, TreeSet<String> deletions,
      String summary, String description) throws IOException {
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(body));
        JsonGenerator g = HubHttp.JSON.getFactory().createGenerator(out)) {
      g.setRootValueSeparator(new SerializedString("\n"));
      g.writeStartObject();
      g.writeStringField("key", "header");
      g.writeObjectFieldStart("value");
      g.writeStringField("summary", summary);
      g.writeStringField("description", description);
      g.writeStringField("parentCommit", parent);
      g.writeEndObject();
      g.writeEndObject();
      for (String path : deletions) {
        g.writeStartObject();
        g.writeStringField("key", "deletedFile");
        g.writeObjectFieldStart("value");
        g.writeStringField("path", path);
        g.writeEndObject();
        g.writeEndObject();
      }
      for (Planned p : plan) {
        g.writeStartObject();
        g.writeStringField("key", p.lfs ? "lfsFile" : "file");
        g.writeObjectFieldStart("value");
        g.writeStringField("path", p.file.path());
        if (p.lfs) {
          g.writeStringField("algo", "sha256");
          g.writeStringField("oid", p.id);
          g.writeNumberField("size", p.file.size());
        } else {
          g.writeFieldName("content");
          try (InputStream in = Files.newInputStream(p.file.file())) {
            // Jackson's default variant: standard base64 with padding, no line feeds
            g.writeBinary(in, (int) p.file.size());
          }
          g.writeStringField("encoding", "base64");
        }
        g.writeEndObject();
        g.writeEndObject();
      }
      g.writeRaw('\n');
    }
  }

  private HttpRequest.Builder api(String pathAndQuery) {
    return HttpRequest.newBuilder(URI.create(endpoint + pathAndQuery)).timeout(Duration.ofMinutes(2));
  }

  private static HttpRequest.BodyPublisher ofFile(Path p) {
    try {
      return HttpRequest.BodyPublishers.ofFile(p);
    } catch (java.io.FileNotFoundException e) {
      throw new IllegalStateException(p + ": the commit body vanished", e);
    }
  }

  @Override
  public String toString() {
    return "Hub target " + target + " at " + endpoint;
  }
}
