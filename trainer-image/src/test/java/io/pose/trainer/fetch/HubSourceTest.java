package io.pose.trainer.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.pose.trainer.fetch.Source.Entry;
import io.pose.trainer.fetch.Source.Listing;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import io.pose.trainer.storage.hub.HubHttp.Backoff;
import io.pose.trainer.storage.hub.LocalHub;
import io.pose.trainer.storage.hub.LocalHub.Kind;
import io.pose.trainer.storage.hub.LocalHub.Seen;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.stream.Collectors;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fetching from the Hub, against {@link LocalHub}: listing, byte-for-byte downloads, resume, checks, tokens. */
class HubSourceTest {

  private static final String TOKEN = "hf_readTOKENthatMustNeverLeak0123";
  private static final String OTHER = "hf_otherTOKENwithoutAccess4567";
  private static final String BOGUS = "hf_bogusTOKENtheHubNeverIssued89";
  private static final String MODEL = "pose-org/tiny-llama";
  private static final String FIELD = "spec.model.credentialsSecret";
  private static final Backoff FAST =
      new Backoff(4, Duration.ofMillis(10), Duration.ofMillis(40), Duration.ofSeconds(2));
  private static final Duration STALL = Duration.ofMillis(300);
  private static final String SHARD_1 = "model-00001-of-00002.safetensors";
  private static final String SHARD_2 = "model-00002-of-00002.safetensors";

  @TempDir Path storage;
  @TempDir Path work;
  private LocalHub hub;
  private final List<String> logs = new CopyOnWriteArrayList<>();
  private final List<Throwable> thrown = new CopyOnWriteArrayList<>();
  private final Logger jul = Logger.getLogger(HubSource.class.getName());
  private final Handler capture = new Handler() {
    private final SimpleFormatter format = new SimpleFormatter();

    @Override
    public void publish(LogRecord r) {
      logs.add(format.format(r));
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void start() throws IOException {
    hub = new LocalHub(storage);
    hub.addToken(TOKEN, false);
    hub.addToken(OTHER, false);
    jul.setLevel(Level.ALL);
    jul.setUseParentHandlers(false); // captured here, kept off the build's console
    jul.addHandler(capture);
  }

  @AfterEach
  void stop() {
    jul.removeHandler(capture);
    jul.setUseParentHandlers(true);
    List<Seen> seen = hub.seen();
    hub.close();
    assertThat(hub.internalErrors()).isEmpty();
    String everything = String.join("\n", logs) + thrown.stream().map(HubSourceTest::trace)
        .collect(Collectors.joining("\n"));
    assertThat(everything).doesNotContain(TOKEN).doesNotContain(OTHER).doesNotContain(BOGUS);
    assertThat(seen).as("the token never goes to storage").filteredOn(s -> s.kind() == Kind.DOWNLOAD)
        .noneMatch(Seen::authorization);
  }

  @Test
  void listingResolvesBranchesTagsAndShasToTheirCommit() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> v1 = modelFiles(1);
    String first = hub.commitDirectly(MODEL, "v1", v1);
    hub.createTag(MODEL, "v1.0", first);
    hub.createBranch(MODEL, "release/v1", first);
    Map<String, byte[]> v2 = modelFiles(2);
    String second = hub.commitDirectly(MODEL, "v2", v2);

    Listing main = source("hf://" + MODEL, null).list();

    assertThat(main.revision()).isEqualTo(second).isEqualTo(hub.head(MODEL));
    Map<String, Entry> entries = byPath(main);
    assertThat(entries.keySet()).containsExactlyInAnyOrder(SHARD_1, SHARD_2, "model.safetensors.index.json",
        "config.json", "tokenizer.json", "README.md", ".gitattributes");
    v2.forEach((path, bytes) -> {
      Entry e = entries.get(path);
      assertThat(e.size()).as(path).isEqualTo(bytes.length);
      if (path.endsWith(".safetensors")) {
        assertThat(e.sha256()).as(path).isEqualTo(sha256(bytes));
        assertThat(e.etag()).as(path + ": the blob id of its LFS pointer").matches("[0-9a-f]{40}")
            .isNotEqualTo(gitBlobId(bytes));
      } else {
        assertThat(e.sha256()).as(path).isNull();
        assertThat(e.etag()).as(path).isEqualTo(gitBlobId(bytes));
      }
    });

    assertThat(source("hf://" + MODEL + "@v1.0", null).list().revision()).isEqualTo(first);
    assertThat(source("hf://" + MODEL + "@" + first, null).list().revision()).isEqualTo(first);
    Listing branch = source("hf://" + MODEL + "@release%2Fv1", null).list();
    assertThat(branch.revision()).isEqualTo(first);
    assertThat(byPath(branch).get(SHARD_1).sha256()).isEqualTo(sha256(v1.get(SHARD_1)));
    assertThat(hub.seen()).as("a '/' in a revision goes as %2F in one path segment")
        .anyMatch(s -> s.kind() == Kind.REVISION && s.path().endsWith("/revision/release%2Fv1"));
  }

  @Test
  void aModelRepositoryArrivesByteForByte() throws IOException {
    hub.createRepo(MODEL, true);
    hub.commitDirectly(MODEL, "weights", modelFiles(3));
    HubSource source = source("hf://" + MODEL, TOKEN);

    Map<String, byte[]> fetched = fetchAll(source, source.list());

    Map<String, byte[]> onHub = hub.files(MODEL);
    assertThat(fetched.keySet()).isEqualTo(onHub.keySet());
    onHub.forEach((path, bytes) -> assertThat(fetched.get(path)).as(path).isEqualTo(bytes));
    assertThat(hub.isLfs(MODEL, SHARD_1)).isTrue();
    assertThat(hub.isLfs(MODEL, "config.json")).isFalse();
    assertThat(hub.requests(Kind.RESOLVE)).isEqualTo(onHub.size());
    assertThat(hub.requests(Kind.DOWNLOAD)).as("the two shards, from storage").isEqualTo(2);
    assertThat(hub.seen()).filteredOn(s -> s.kind() == Kind.RESOLVE).allMatch(Seen::authorization)
        .allMatch(s -> s.path().contains("/resolve/" + hub.head(MODEL) + "/"));
  }

  @Test
  void aDroppedConnectionResumesWithARangeFromThePartialLength() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(4);
    hub.commitDirectly(MODEL, "weights", files);
    HubSource source = source("hf://" + MODEL, null);
    Map<String, Entry> entries = byPath(source.list());
    byte[] shard = files.get(SHARD_1);
    hub.cutResponse(Kind.DOWNLOAD, 1, 150_000);

    Path partial = partial(entries.get(SHARD_1));
    source.download(entries.get(SHARD_1), partial);

    assertThat(Files.readAllBytes(partial)).isEqualTo(shard);
    List<String> ranges = ranges(Kind.DOWNLOAD);
    assertThat(ranges).hasSize(2);
    assertThat(ranges.get(0)).isNull();
    long resumedAt = Long.parseLong(ranges.get(1).replaceAll("bytes=(\\d+)-", "$1"));
    assertThat(resumedAt).isPositive().isLessThanOrEqualTo(150_000);
    assertThat(hub.bytesServed(Kind.DOWNLOAD)).isLessThan(2L * shard.length);
    assertThat(logs).anyMatch(l -> l.contains("download of " + SHARD_1) && l.contains("try 2 of 4"));

    // a connection that drops again and again, each time after some progress, still completes: only failures in a
    // row count against the tries (4 here)
    hub.cutResponse(Kind.DOWNLOAD, 6, 30_000);
    Path second = partial(entries.get(SHARD_2));
    source.download(entries.get(SHARD_2), second);
    assertThat(Files.readAllBytes(second)).isEqualTo(files.get(SHARD_2));
    // each retry starts where the bytes that reached the client end (at most what the server sent before the cut:
    // TCP may lose the tail of a reset connection), so the starts grow and stay within 6 x 30000
    List<String> retries = ranges(Kind.DOWNLOAD).subList(2, 2 + 7);
    assertThat(ranges(Kind.DOWNLOAD)).hasSize(2 + 7);
    long previous = 0;
    for (String r : retries.subList(1, retries.size())) {
      long start = Long.parseLong(r.replaceAll("bytes=(\\d+)-", "$1"));
      assertThat(start).isGreaterThanOrEqualTo(previous).isLessThanOrEqualTo(180_000);
      previous = start;
    }
    assertThat(previous).isPositive();

    // a file stored in git resumes the same way, on the Hub itself
    hub.cutResponse(Kind.RESOLVE, 1, 5_000);
    Path tokenizer = partial(entries.get("tokenizer.json"));
    source.download(entries.get("tokenizer.json"), tokenizer);
    assertThat(Files.readAllBytes(tokenizer)).isEqualTo(files.get("tokenizer.json"));
    String last = ranges(Kind.RESOLVE).get(ranges(Kind.RESOLVE).size() - 1);
    assertThat(last).matches("bytes=\\d+-");
    assertThat(Long.parseLong(last.replaceAll("bytes=(\\d+)-", "$1"))).isPositive().isLessThanOrEqualTo(5_000);
  }

  @Test
  void bytesLeftByAnEarlierTryAreKept() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(5);
    hub.commitDirectly(MODEL, "weights", files);
    HubSource source = source("hf://" + MODEL, null);
    Entry entry = byPath(source.list()).get(SHARD_1);
    byte[] shard = files.get(SHARD_1);
    Path partial = partial(entry);
    Files.write(partial, Arrays.copyOf(shard, 100_000));

    source.download(entry, partial);

    assertThat(Files.readAllBytes(partial)).isEqualTo(shard);
    assertThat(ranges(Kind.DOWNLOAD)).containsExactly("bytes=100000-");
    assertThat(hub.bytesServed(Kind.DOWNLOAD)).isEqualTo(shard.length - 100_000);

    // a server that does not honour the range sends everything: the download starts over
    Files.write(partial, Arrays.copyOf(shard, 100_000));
    hub.ignoreRange(Kind.DOWNLOAD, 1);
    source.download(entry, partial);
    assertThat(Files.readAllBytes(partial)).isEqualTo(shard);
  }

  @Test
  void aStalledConnectionIsClosedAndResumed() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(6);
    hub.commitDirectly(MODEL, "weights", files);
    HubSource source = source("hf://" + MODEL, null);
    Entry entry = byPath(source.list()).get(SHARD_1);
    hub.stallResponse(Kind.DOWNLOAD, 1, 80_000, Duration.ofSeconds(4));

    long start = System.nanoTime();
    Path partial = partial(entry);
    source.download(entry, partial);

    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not waiting for the server to give up")
        .isLessThan(Duration.ofSeconds(3));
    assertThat(Files.readAllBytes(partial)).isEqualTo(files.get(SHARD_1));
    assertThat(ranges(Kind.DOWNLOAD)).containsExactly(null, "bytes=80000-");
    assertThat(logs).anyMatch(l -> l.contains("no data for 300 ms at byte 80000"));
  }

  @Test
  void corruptedBytesAreAChecksumMismatchAndThePartialFileIsDeleted() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(7);
    hub.commitDirectly(MODEL, "weights", files);
    HubSource source = source("hf://" + MODEL, null);
    Map<String, Entry> entries = byPath(source.list());

    hub.corrupt(Kind.DOWNLOAD, 1);
    Path shard = partial(entries.get(SHARD_1));
    Throwable lfs = caught(() -> source.download(entries.get(SHARD_1), shard));
    assertThat(lfs).isInstanceOf(ChecksumMismatchException.class).hasMessageContaining(SHARD_1)
        .hasMessageContaining("sha256").hasMessageContaining(sha256(files.get(SHARD_1)));
    assertThat(shard).doesNotExist();

    hub.corrupt(Kind.RESOLVE, 1);
    Path config = partial(entries.get("config.json"));
    Throwable git = caught(() -> source.download(entries.get("config.json"), config));
    assertThat(git).isInstanceOf(ChecksumMismatchException.class).hasMessageContaining("config.json")
        .hasMessageContaining("git blob id").hasMessageContaining(gitBlobId(files.get("config.json")));
    assertThat(config).doesNotExist();

    // the next try starts afresh and succeeds
    source.download(entries.get(SHARD_1), shard);
    assertThat(Files.readAllBytes(shard)).isEqualTo(files.get(SHARD_1));
  }

  @Test
  void rateLimitsAndServerErrorsAreRetried() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(8);
    hub.commitDirectly(MODEL, "weights", files);
    hub.fail(Kind.REVISION, 1, 503, null);
    hub.fail(Kind.RESOLVE, 1, 429, 1);
    hub.fail(Kind.DOWNLOAD, 2, 500, null);

    long start = System.nanoTime();
    HubSource source = source("hf://" + MODEL, null);
    Entry entry = byPath(source.list()).get(SHARD_2);
    Path partial = partial(entry);
    source.download(entry, partial);

    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("Retry-After: 1 honoured")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(Files.readAllBytes(partial)).isEqualTo(files.get(SHARD_2));
    assertThat(logs).anyMatch(l -> l.contains("HTTP 503")).anyMatch(l -> l.contains("HTTP 500"))
        .anyMatch(l -> l.contains("HTTP 429") && l.contains("as the server asked"));

    hub.fail(Kind.DOWNLOAD, 10, 500, null);
    Path again = work.resolve("again.partial");
    Throwable t = caught(() -> source.download(entry, again));
    assertThat(t).isInstanceOf(IOException.class).isNotInstanceOf(ChecksumMismatchException.class)
        .hasMessageContaining("download of " + SHARD_2).hasMessageContaining("HTTP 500")
        .hasMessageContaining("after 4 tries");
    assertThat(again).as("kept for the next try").exists();
  }

  @Test
  void aGatedRepositoryNeedsATokenThatWasGrantedAccess() throws IOException {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(9);
    hub.commitDirectly(MODEL, "weights", files);
    hub.gate(MODEL, TOKEN);

    // like the Hub: everyone sees a gated repository's files, only granted accounts download them
    HubSource anonymous = source("hf://" + MODEL, null);
    Entry config = byPath(anonymous.list()).get("config.json");
    Throwable noToken = caught(() -> anonymous.download(config, partial(config)));
    assertThat(noToken).isInstanceOf(CredentialsException.class)
        .hasMessageStartingWith("hf://" + MODEL + ": the model repository is gated: set " + FIELD
            + " to a Secret whose key \"token\" holds a Hugging Face token that can read it (no token was sent; "
            + "the Hub answered HTTP 401");

    HubSource noKey = new HubSource(StorageUri.parse("hf://" + MODEL, "spec.model.uri"),
        Credentials.of("hf-token", Map.of("other", "x")), FIELD, hub.endpoint(), FAST, STALL);
    noKey.list();
    assertThat(caught(() -> noKey.download(config, partial(config)))).isInstanceOf(CredentialsException.class)
        .hasMessageContaining("Secret \"hf-token\" (" + FIELD + ") has no key \"token\"");

    HubSource other = source("hf://" + MODEL, OTHER);
    other.list();
    assertThat(caught(() -> other.download(config, partial(config)))).isInstanceOf(CredentialsException.class)
        .hasMessageContaining("is gated and the token in Secret \"hf-token\" (" + FIELD + ") has not been granted "
            + "access").hasMessageContaining("HTTP 403");

    assertThat(caught(() -> source("hf://" + MODEL, BOGUS).list())).isInstanceOf(CredentialsException.class)
        .hasMessageContaining("the Hub rejected the token in Secret \"hf-token\"").hasMessageContaining("HTTP 401");

    HubSource granted = source("hf://" + MODEL, TOKEN);
    granted.list();
    Path partial = partial(config);
    granted.download(config, partial);
    assertThat(Files.readAllBytes(partial)).isEqualTo(files.get("config.json"));
  }

  @Test
  void aPrivateRepositoryWithoutATokenNamesWhatToSet() {
    hub.createRepo(MODEL, true);

    Throwable t = caught(() -> source("hf://" + MODEL, null).list());

    assertThat(t).isInstanceOf(CredentialsException.class)
        .hasMessageStartingWith("hf://" + MODEL + ": the model repository is private or gated (or does not exist): "
            + "set " + FIELD + " to a Secret");
  }

  @Test
  void unknownRepositoriesRevisionsAndFilesAreNotFound() throws IOException {
    hub.createRepo(MODEL, false);
    hub.commitDirectly(MODEL, "weights", modelFiles(10));

    assertThat(caught(() -> source("hf://pose-org/no-such-model", TOKEN).list()))
        .isInstanceOf(SourceNotFoundException.class)
        .hasMessageContaining("there is no model repository pose-org/no-such-model on " + hub.endpoint());
    assertThat(caught(() -> source("hf://" + MODEL + "@no-such-branch", null).list()))
        .isInstanceOf(SourceNotFoundException.class)
        .hasMessageContaining("the model repository " + MODEL + " has no revision \"no-such-branch\"");

    HubSource source = source("hf://" + MODEL, null);
    String head = source.list().revision();
    Entry missing = new Entry("weights/missing.safetensors", 10, null, null);
    assertThat(caught(() -> source.download(missing, partial(missing))))
        .isInstanceOf(SourceNotFoundException.class)
        .hasMessageContaining("no file \"weights/missing.safetensors\" at commit " + head);
  }

  @Test
  void aDatasetPathListsOnlyTheFilesUnderIt() throws IOException {
    String dataset = "datasets/pose-org/long-docs";
    hub.createRepo(dataset, false);
    Map<String, byte[]> files = new TreeMap<>();
    files.put("README.md", "# long documents\n".getBytes(StandardCharsets.UTF_8));
    files.put("data/train-00000-of-00002.parquet", random(60_000, 1));
    files.put("data/train-00001-of-00002.parquet", random(50_000, 2));
    files.put("data/validation.jsonl", "{\"text\": \"a long document\"}\n".getBytes(StandardCharsets.UTF_8));
    files.put("database/notes.txt", "not under data/\n".getBytes(StandardCharsets.UTF_8));
    files.put("eval/passkey.jsonl", "{\"length\": 32768}\n".getBytes(StandardCharsets.UTF_8));
    hub.commitDirectly(dataset, "data", files);

    HubSource data = source("hf://datasets/pose-org/long-docs/data", null);
    Listing listing = data.list();

    assertThat(listing.revision()).isEqualTo(hub.head(dataset));
    assertThat(byPath(listing).keySet()).as("paths relative to the repository root").containsExactlyInAnyOrder(
        "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/validation.jsonl");
    Map<String, byte[]> fetched = fetchAll(data, listing);
    fetched.forEach((path, bytes) -> assertThat(bytes).as(path).isEqualTo(files.get(path)));
    assertThat(hub.requests(Kind.DOWNLOAD)).as("the parquet files are LFS files").isEqualTo(2);
    assertThat(hub.seen()).filteredOn(s -> s.kind() == Kind.RESOLVE)
        .allMatch(s -> s.path().startsWith("/datasets/pose-org/long-docs/resolve/"));

    assertThat(byPath(source("hf://datasets/pose-org/long-docs/eval/passkey.jsonl", null).list()).keySet())
        .containsExactly("eval/passkey.jsonl");
    assertThat(caught(() -> source("hf://datasets/pose-org/long-docs/test", null).list()))
        .isInstanceOf(SourceNotFoundException.class).hasMessageContaining("has no file or folder \"test\"");
    assertThat(caught(() -> source("hf://pose-org/long-docs", TOKEN).list()))
        .as("a dataset is not a model").isInstanceOf(SourceNotFoundException.class)
        .hasMessageContaining("no model repository pose-org/long-docs");
  }

  @Test
  void localHubAnswersHeadOnResolveLikeTheHub() throws Exception {
    hub.createRepo(MODEL, false);
    Map<String, byte[]> files = modelFiles(11);
    String head = hub.commitDirectly(MODEL, "weights", files);
    HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    Function<String, HttpResponse<Void>> headOf = path -> {
      try {
        return client.send(HttpRequest.newBuilder(URI.create(hub.endpoint() + "/" + MODEL + "/resolve/main/" + path))
            .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
      } catch (IOException | InterruptedException e) {
        throw new IllegalStateException(e);
      }
    };

    HttpResponse<Void> lfs = headOf.apply(SHARD_1);
    assertThat(lfs.statusCode()).isEqualTo(302);
    assertThat(lfs.headers().firstValue("X-Linked-Etag")).hasValue("\"" + sha256(files.get(SHARD_1)) + "\"");
    assertThat(lfs.headers().firstValue("X-Linked-Size")).hasValue(String.valueOf(files.get(SHARD_1).length));
    assertThat(lfs.headers().firstValue("X-Repo-Commit")).hasValue(head);
    assertThat(lfs.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).contains("/storage/lfs/"));

    HttpResponse<Void> git = headOf.apply("config.json");
    assertThat(git.statusCode()).isEqualTo(200);
    assertThat(git.headers().firstValue("ETag")).hasValue("\"" + gitBlobId(files.get("config.json")) + "\"");
    assertThat(git.headers().firstValue("Content-Length")).hasValue(String.valueOf(files.get("config.json").length));

    HttpResponse<Void> missing = headOf.apply("nope.bin");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.headers().firstValue("X-Error-Code")).hasValue("EntryNotFound");

    HttpResponse<byte[]> pastTheEnd = client.send(HttpRequest.newBuilder(URI.create(lfs.headers()
        .firstValue("Location").orElseThrow())).header("Range", "bytes=999999999-").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(pastTheEnd.statusCode()).isEqualTo(416);
    assertThat(pastTheEnd.headers().firstValue("Content-Range"))
        .hasValue("bytes */" + files.get(SHARD_1).length);
  }

  // ---------------------------------------------------------------------------------------------------------------

  private HubSource source(String uri, String token) {
    Credentials credentials = token == null ? Credentials.none() : Credentials.of("hf-token", Map.of("token", token));
    return new HubSource(StorageUri.parse(uri, "spec.model.uri"), credentials, FIELD, hub.endpoint(), FAST, STALL);
  }

  private Map<String, byte[]> fetchAll(HubSource source, Listing listing) throws IOException {
    Map<String, byte[]> out = new TreeMap<>();
    for (Entry e : listing.entries()) {
      Path p = partial(e);
      source.download(e, p);
      out.put(e.path(), Files.readAllBytes(p));
    }
    return out;
  }

  private Path partial(Entry e) throws IOException {
    Path p = work.resolve(e.path() + ".partial");
    Files.createDirectories(p.getParent());
    return p;
  }

  private List<String> ranges(Kind kind) {
    return hub.seen().stream().filter(s -> s.kind() == kind).map(Seen::range).toList();
  }

  /** Runs {@code call}, keeping what it threw for the token check. */
  private Throwable caught(ThrowingCallable call) {
    Throwable t = catchThrowable(call);
    if (t != null) {
      thrown.add(t);
    }
    return t;
  }

  private static Map<String, Entry> byPath(Listing listing) {
    Map<String, Entry> out = new TreeMap<>();
    listing.entries().forEach(e -> out.put(e.path(), e));
    return out;
  }

  /** A model as the Hub holds one: configuration, tokenizer, card, and weights in two shards with their index. */
  private static Map<String, byte[]> modelFiles(int seed) {
    Map<String, byte[]> m = new TreeMap<>();
    m.put("config.json", ("{\"architectures\": [\"LlamaForCausalLM\"], \"max_position_embeddings\": 2048, "
        + "\"seed\": " + seed + "}\n").getBytes(StandardCharsets.UTF_8));
    StringBuilder vocab = new StringBuilder("{\"model\": {\"vocab\": {");
    Random r = new Random(seed);
    for (int i = 0; vocab.length() < 30_000; i++) {
      vocab.append(i == 0 ? "" : ", ").append('"').append((char) ('a' + r.nextInt(26))).append(i).append("\": ")
          .append(i);
    }
    m.put("tokenizer.json", vocab.append("}}}\n").toString().getBytes(StandardCharsets.UTF_8));
    m.put("README.md", ("---\nlicense: apache-2.0\n---\n# tiny-llama " + seed + "\n").getBytes(StandardCharsets.UTF_8));
    m.put(SHARD_1, safetensors("model.layers.0.mlp.up_proj.weight", 100_000, seed));
    m.put(SHARD_2, safetensors("lm_head.weight", 60_000, seed + 100));
    m.put("model.safetensors.index.json", ("{\"metadata\": {\"total_size\": 640000}, \"weight_map\": {"
        + "\"model.layers.0.mlp.up_proj.weight\": \"" + SHARD_1 + "\", \"lm_head.weight\": \"" + SHARD_2 + "\"}}\n")
        .getBytes(StandardCharsets.UTF_8));
    return m;
  }

  private static byte[] safetensors(String tensor, int floats, int seed) {
    byte[] header = ("{\"" + tensor + "\":{\"dtype\":\"F32\",\"shape\":[" + floats + "],\"data_offsets\":[0,"
        + 4 * floats + "]}}").getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + 4 * floats).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header).put(random(4 * floats, seed));
    return b.array();
  }

  private static byte[] random(int size, int seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Computed here from git's definition, not with the code under test. */
  private static String gitBlobId(byte[] content) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      sha1.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(sha1.digest(content));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String trace(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }
}
