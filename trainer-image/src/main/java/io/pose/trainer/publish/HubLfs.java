package io.pose.trainer.publish;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.trainer.publish.HubFiles.LocalFile;
import io.pose.trainer.storage.hub.HubHttp;
import io.pose.trainer.storage.hub.HubHttp.Auth;
import io.pose.trainer.storage.hub.HubHttp.Response;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Uploads LFS objects the way huggingface_hub does: the Git LFS batch API on the repository, then per object the
 * action it returns (basic: one PUT; multipart: a PUT per part to the presigned part URLs, then the completion POST),
 * then the verify action. Uploaded objects stay invisible until a commit names them.
 */
final class HubLfs {

  /** huggingface_hub asks the batch endpoint about at most this many objects per request. */
  private static final int BATCH = 256;
  private static final String LFS_JSON = "application/vnd.git-lfs+json";
  /** Headers the JDK's HttpClient sets itself and refuses from callers. */
  private static final Set<String> RESTRICTED = Set.of("connection", "content-length", "expect", "host", "upgrade");
  /** Uploads get 5 minutes plus one second per MiB: slow links are fine, a stalled connection is not. */
  private static final long BYTES_PER_SECOND = 1 << 20;

  /** One object to upload: its oid (sha256, hex) and the file with its content. */
  record LfsObject(String oid, LocalFile file) {}

  private final HubHttp http;
  private final String repo;
  private final String revision;

  HubLfs(HubHttp http, String repo, String revision) {
    this.http = http;
    this.repo = repo;
    this.revision = revision;
  }

  /** Uploads every object the Hub does not have yet; objects with the same oid go once. */
  void upload(List<LfsObject> objects) throws IOException {
    Map<String, LfsObject> byOid = new LinkedHashMap<>();
    for (LfsObject o : objects) {
      byOid.putIfAbsent(o.oid(), o);
    }
    List<LfsObject> unique = List.copyOf(byOid.values());
    for (int from = 0; from < unique.size(); from += BATCH) {
      List<LfsObject> chunk = unique.subList(from, Math.min(unique.size(), from + BATCH));
      for (JsonNode answer : batch(chunk)) {
        LfsObject o = byOid.get(answer.path("oid").asText());
        if (o == null || answer.path("size").asLong(-1) != o.file().size()) {
          throw new IOException("LFS batch for " + repo + ": the answer names an object that was not asked for: "
              + answer.path("oid").asText() + " (" + answer.path("size").asText() + " bytes)");
        }
        JsonNode error = answer.get("error");
        if (error != null) {
          throw new IOException("LFS batch for " + repo + ": " + o.file().path() + ": HTTP "
              + error.path("code").asText() + ": " + error.path("message").asText());
        }
        JsonNode upload = answer.path("actions").get("upload");
        if (upload == null) {
          HubTarget.LOG.log(System.Logger.Level.DEBUG, "{0}: already on the Hub", o.file().path());
        } else {
          uploadObject(o, upload);
        }
        JsonNode verify = answer.path("actions").get("verify");
        if (verify != null) {
          verify(o, verify);
        }
      }
    }
  }

  private List<JsonNode> batch(List<LfsObject> chunk) throws IOException {
    ObjectNode body = HubHttp.JSON.createObjectNode();
    body.put("operation", "upload");
    body.putArray("transfers").add("basic").add("multipart");
    ArrayNode objects = body.putArray("objects");
    for (LfsObject o : chunk) {
      objects.addObject().put("oid", o.oid()).put("size", o.file().size());
    }
    body.put("hash_algo", "sha256");
    body.putObject("ref").put("name", revision);
    byte[] json = HubHttp.JSON.writeValueAsBytes(body);
    URI uri = http.endpoint().resolve("/" + repo + ".git/info/lfs/objects/batch");
    Response r = http.send("LFS batch for " + chunk.size() + " object(s)", Auth.HUB, () -> HttpRequest.newBuilder(uri)
        .timeout(Duration.ofMinutes(2)).header("Accept", LFS_JSON).header("Content-Type", LFS_JSON)
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)));
    if (!r.ok()) {
      throw new IOException("LFS batch for " + repo + ": " + r.message());
    }
    JsonNode objectsAnswer = r.json().get("objects");
    if (objectsAnswer == null || !objectsAnswer.isArray()) {
      throw new IOException("LFS batch for " + repo + ": malformed answer (no \"objects\" list)");
    }
    List<JsonNode> out = new ArrayList<>();
    objectsAnswer.forEach(out::add);
    return out;
  }

  private void uploadObject(LfsObject o, JsonNode action) throws IOException {
    URI href = href(action, o, "upload");
    JsonNode header = action.path("header");
    try (FileChannel ch = FileChannel.open(o.file().file(), StandardOpenOption.READ)) {
      if (header.has("chunk_size")) {
        multipart(o, ch, href, header);
      } else {
        put("upload of " + o.file().path(), href, ch, 0, o.file().size(), header);
      }
    }
    HubTarget.LOG.log(System.Logger.Level.INFO, "uploaded {0} ({1} bytes)", o.file().path(), o.file().size());
  }

  /**
   * The Hub's multipart transfer: {@code header.chunk_size} is the part size and the numeric keys ("1", "00002", ...)
   * are the presigned part URLs; the action's href is the completion endpoint.
   */
  private void multipart(LfsObject o, FileChannel ch, URI completion, JsonNode header) throws IOException {
    long chunk;
    try {
      chunk = Long.parseLong(header.get("chunk_size").asText());
    } catch (NumberFormatException e) {
      throw new IOException("LFS batch for " + repo + ": chunk_size is not an integer: " + header.get("chunk_size"));
    }
    TreeMap<Integer, URI> parts = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().matches("\\d{1,9}")) {
        parts.put(Integer.parseInt(e.getKey()), URI.create(e.getValue().asText()));
      }
    }
    long size = o.file().size();
    long expected = chunk <= 0 ? -1 : (size + chunk - 1) / chunk;
    if (parts.isEmpty() || parts.size() != expected || parts.firstKey() != 1 || parts.lastKey() != parts.size()) {
      throw new IOException("LFS batch for " + repo + ": " + o.file().path() + " (" + size + " bytes, chunk_size "
          + chunk + ") needs " + expected + " parts numbered from 1; the Hub gave " + parts.keySet());
    }
    ArrayNode done = HubHttp.JSON.createArrayNode();
    for (Map.Entry<Integer, URI> part : parts.entrySet()) {
      long offset = (part.getKey() - 1) * chunk;
      String what = "part " + part.getKey() + "/" + parts.size() + " of " + o.file().path();
      Response r = put(what, part.getValue(), ch, offset, Math.min(chunk, size - offset), null);
      String etag = r.headers().firstValue("ETag").orElse("");
      if (etag.isEmpty()) {
        throw new IOException(what + ": storage answered without an ETag");
      }
      done.addObject().put("partNumber", part.getKey()).put("etag", etag);
    }
    ObjectNode body = HubHttp.JSON.createObjectNode().put("oid", o.oid());
    body.set("parts", done);
    byte[] json = HubHttp.JSON.writeValueAsBytes(body);
    // the completion URL is signed by the Hub: like huggingface_hub, no token goes with it
    Response r = http.send("completion of " + o.file().path(), Auth.PRESIGNED, () -> HttpRequest.newBuilder(completion)
        .timeout(Duration.ofMinutes(5)).header("Accept", LFS_JSON).header("Content-Type", LFS_JSON)
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)));
    if (!r.ok()) {
      throw new IOException("completion of " + o.file().path() + ": " + r.message());
    }
  }

  private Response put(String what, URI url, FileChannel ch, long offset, long length, JsonNode header)
      throws IOException {
    Response r = http.send(what, Auth.PRESIGNED, () -> {
      HttpRequest.Builder b = HttpRequest.newBuilder(url)
          .timeout(Duration.ofMinutes(5).plusSeconds(length / BYTES_PER_SECOND))
          // a known length: S3 refuses chunked transfer encoding on presigned PUTs
          .PUT(HttpRequest.BodyPublishers.fromPublisher(
              HttpRequest.BodyPublishers.ofInputStream(() -> HubFiles.slice(ch, offset, length)), length));
      if (header != null) {
        // the Git LFS basic transfer: the action's headers go with the PUT
        header.fields().forEachRemaining(e -> {
          if (!RESTRICTED.contains(e.getKey().toLowerCase(Locale.ROOT))) {
            b.header(e.getKey(), e.getValue().asText());
          }
        });
      }
      return b;
    });
    if (!r.ok()) {
      throw new IOException(what + ": " + r.message());
    }
    return r;
  }

  private void verify(LfsObject o, JsonNode action) throws IOException {
    URI href = href(action, o, "verify");
    byte[] json = HubHttp.JSON.writeValueAsBytes(
        HubHttp.JSON.createObjectNode().put("oid", o.oid()).put("size", o.file().size()));
    Response r = http.send("verify of " + o.file().path(), Auth.HUB, () -> HttpRequest.newBuilder(href)
        .timeout(Duration.ofMinutes(2)).header("Accept", LFS_JSON).header("Content-Type", LFS_JSON)
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)));
    if (!r.ok()) {
      throw new IOException("the Hub did not verify " + o.file().path() + " (sha256 " + o.oid() + ", "
          + o.file().size() + " bytes): " + r.message());
    }
  }

  private URI href(JsonNode action, LfsObject o, String name) throws IOException {
    JsonNode href = action.get("href");
    if (href == null || !href.isTextual()) {
      throw new IOException("LFS batch for " + repo + ": the " + name + " action of " + o.file().path()
          + " has no href");
    }
    return URI.create(href.asText());
  }
}
