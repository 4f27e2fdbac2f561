package io.pose.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.pose.trainer.publish.PublishTarget.Published;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.StorageUri;
import io.pose.trainer.storage.hub.HubHttp.Backoff;
import io.pose.trainer.storage.hub.LocalHub;
import io.pose.trainer.storage.hub.LocalHub.Kind;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishing to the Hub, against {@link LocalHub}: one commit with every byte, retries, tokens, interruptions. */
class HubTargetTest {

  private static final String WRITE_TOKEN = "hf_writeTOKENthatMustNeverBeLogged0123";
  private static final String READ_TOKEN = "hf_readTOKENthatMustNeverBeLogged4567";
  private static final String REPO = "pose-org/tiny-32k";
  private static final StorageUri TARGET = StorageUri.parse("hf://" + REPO, "spec.publish.target");
  /** Small so that the test model goes in several parts; the real Hub's parts are many MB. */
  private static final int CHUNK = 64 * 1024;
  private static final Backoff FAST =
      new Backoff(4, Duration.ofMillis(10), Duration.ofMillis(40), Duration.ofSeconds(2));

  @TempDir Path storage;
  @TempDir Path work;
  private LocalHub hub;
  private final List<String> logs = new CopyOnWriteArrayList<>();
  private final Logger jul = Logger.getLogger(HubTarget.class.getName());
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
    hub.addToken(WRITE_TOKEN, true);
    hub.addToken(READ_TOKEN, false);
    hub.chunkSize(CHUNK);
    jul.setLevel(Level.ALL);
    jul.setUseParentHandlers(false); // captured here, kept off the build's console
    jul.addHandler(capture);
  }

  @AfterEach
  void stop() {
    jul.removeHandler(capture);
    jul.setUseParentHandlers(true);
    hub.close();
    assertThat(hub.internalErrors()).isEmpty();
    assertThat(logs).noneMatch(l -> l.contains(WRITE_TOKEN) || l.contains(READ_TOKEN));
  }

  @Test
  void treeArrivesByteForByteInOneCommit() throws IOException {
    Map<String, byte[]> tree = tree(1);
    Path dir = write("v1", tree);

    Published p = target(WRITE_TOKEN).publish(dir, "PoSE: tiny extended to 32k\n\nTrained by the pose operator.");

    assertThat(p.uri()).isEqualTo("hf://" + REPO);
    assertThat(p.revision()).matches("[0-9a-f]{40}").isEqualTo(hub.head(REPO));
    assertThat(hub.commits(REPO)).hasSize(2); // the Hub's initial commit, then ours
    assertThat(hub.summary(REPO, p.revision())).isEqualTo("PoSE: tiny extended to 32k");
    assertThat(hub.isPrivate(REPO)).isTrue();
    assertSameFiles(hub.files(REPO), tree);
    // the Hub decides: .safetensors by pattern, the PNG because its sample is binary, text inline
    assertThat(hub.isLfs(REPO, "model.safetensors")).isTrue();
    assertThat(hub.isLfs(REPO, "eval/plot.png")).isTrue();
    assertThat(hub.isLfs(REPO, "config.json")).isFalse();
    assertThat(hub.isLfs(REPO, "tokenizer.json")).isFalse();
    assertThat(hub.isLfs(REPO, "eval/results.md")).isFalse();
    long parts = (tree.get("model.safetensors").length + CHUNK - 1) / CHUNK;
    assertThat(parts).isGreaterThan(2);
    assertThat(hub.requests(Kind.PART)).isEqualTo(parts);
    assertThat(hub.requests(Kind.COMPLETE)).isEqualTo(1);
    assertThat(hub.requests(Kind.UPLOAD)).isEqualTo(1); // the PNG, in one PUT
    assertThat(hub.requests(Kind.VERIFY)).isEqualTo(2);
    assertThat(hub.requests(Kind.COMMIT)).isEqualTo(1);
    assertThat(hub.storedObjects()).containsExactlyInAnyOrder(
        sha256(tree.get("model.safetensors")), sha256(tree.get("eval/plot.png")));
  }

  @Test
  void filesAboveTheHubsSizeLimitGoByLfsEvenWhenText() throws IOException {
    hub.lfsThreshold(100_000);
    Map<String, byte[]> tree = tree(1);
    tree.put("tokenizer.json", text(150_000, 7));

    target(WRITE_TOKEN).publish(write("big", tree), "big tokenizer");

    assertThat(hub.isLfs(REPO, "tokenizer.json")).isTrue();
    assertSameFiles(hub.files(REPO), tree);
    assertThat(new String(hub.files(REPO).get(".gitattributes"), StandardCharsets.UTF_8))
        .contains("tokenizer.json filter=lfs diff=lfs merge=lfs -text");
  }

  @Test
  void rateLimitsServerErrorsAndDroppedConnectionsAreRetried() throws IOException {
    Map<String, byte[]> tree = tree(2);
    hub.fail(Kind.CREATE, 1, 500, null);
    hub.fail(Kind.REVISION, 1, 502, null);
    hub.fail(Kind.PREUPLOAD, 1, 429, 1);
    hub.fail(Kind.BATCH, 2, 503, null);
    hub.fail(Kind.PART, 1, 500, null);
    hub.dropRequest(Kind.PART, 1, 1000);
    hub.dropRequest(Kind.UPLOAD, 1, 10);
    hub.fail(Kind.COMPLETE, 1, 502, null);
    hub.fail(Kind.VERIFY, 1, 500, null);
    hub.fail(Kind.COMMIT, 1, 500, null);

    long start = System.nanoTime();
    Published p = target(WRITE_TOKEN).publish(write("v", tree), "with faults");

    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("Retry-After: 1 honoured")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(p.revision()).isEqualTo(hub.head(REPO));
    assertThat(hub.commits(REPO)).hasSize(2);
    assertSameFiles(hub.files(REPO), tree);
    assertThat(logs).as("retries are logged").anyMatch(l -> l.contains("HTTP 429") && l.contains("as the server asked"))
        .anyMatch(l -> l.contains("HTTP 503"))
        .anyMatch(l -> l.contains("part 1/"));
  }

  @Test
  void aCommitWhoseAnswerWasLostIsNotMadeTwice() throws IOException {
    Map<String, byte[]> tree = tree(3);
    hub.dropResponse(Kind.COMMIT, 1);

    Published p = target(WRITE_TOKEN).publish(write("v", tree), "answer lost");

    assertThat(hub.requests(Kind.COMMIT)).isEqualTo(2); // the retry met 412: the branch had moved to our commit
    assertThat(p.revision()).isEqualTo(hub.head(REPO));
    assertThat(hub.commits(REPO)).hasSize(2);
    assertSameFiles(hub.files(REPO), tree);
  }

  @Test
  void missingTokenNamesTheSecretAndKey() {
    Path dir = work;
    assertThatThrownBy(() -> new HubTarget(TARGET, Credentials.of("hf-write-token", Map.of("other", "x")),
        hub.endpoint(), true, FAST).publish(dir, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("Secret \"hf-write-token\" has no key \"token\"")
        .hasMessageContaining("hf://" + REPO);
    assertThatThrownBy(() -> new HubTarget(TARGET, Credentials.none(), hub.endpoint(), true, FAST).publish(dir, "m"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("\"token\"");
    assertThat(hub.requests(Kind.CREATE)).isZero();
  }

  @Test
  void rejectedTokensAreCredentialsErrorsWithoutTheToken() throws IOException {
    Path dir = write("v", tree(4));

    Throwable unknown = catchThrowable(() -> target("hf_unknownTOKEN999").publish(dir, "m"));
    assertThat(unknown).isInstanceOf(CredentialsException.class)
        .hasMessageStartingWith("the Hub rejected the token for " + REPO + ": HTTP 401");
    assertThat(trace(unknown)).doesNotContain("hf_unknownTOKEN999");

    // a read token cannot create the repository, and it is not there
    Throwable readOnNew = catchThrowable(() -> target(READ_TOKEN).publish(dir, "m"));
    assertThat(readOnNew).isInstanceOf(CredentialsException.class)
        .hasMessageContaining("the Hub rejected the token for " + REPO + ": HTTP 403");
    assertThat(trace(readOnNew)).doesNotContain(READ_TOKEN);

    // nor write to an existing one
    target(WRITE_TOKEN).publish(dir, "first");
    String head = hub.head(REPO);
    Throwable readOnExisting = catchThrowable(() -> target(READ_TOKEN).publish(write("w", tree(5)), "m"));
    assertThat(readOnExisting).isInstanceOf(CredentialsException.class)
        .hasMessage("the Hub rejected the token for " + REPO + ": HTTP 403 (pre-upload of 6 file(s))");
    assertThat(trace(readOnExisting)).doesNotContain(READ_TOKEN);
    assertThat(hub.head(REPO)).isEqualTo(head);
  }

  @Test
  void anInterruptedUploadLeavesTheRepositoryAsItWas() throws IOException {
    Map<String, byte[]> v1 = tree(6);
    String first = target(WRITE_TOKEN).publish(write("v1", v1), "v1").revision();
    Map<String, byte[]> v2 = tree(7);
    v2.remove("eval/plot.png");
    hub.dropRequest(Kind.PART, 1000, 1000); // every part upload loses its connection

    Throwable t = catchThrowable(() -> target(WRITE_TOKEN).publish(write("v2", v2), "v2"));

    assertThat(t).isInstanceOf(IOException.class).hasMessageContaining("part 1/").hasMessageContaining("after 4 tries");
    assertThat(hub.head(REPO)).isEqualTo(first);
    assertThat(hub.commits(REPO)).hasSize(2);
    assertSameFiles(hub.files(REPO), v1);
    assertThat(hub.storedObjects()).doesNotContain(sha256(v2.get("model.safetensors")));
    assertThat(hub.requests(Kind.COMMIT)).isEqualTo(1);

    hub.clearFaults();
    String second = target(WRITE_TOKEN).publish(write("v2", v2), "v2").revision();
    assertThat(second).isEqualTo(hub.head(REPO)).isNotEqualTo(first);
    assertSameFiles(hub.files(REPO), v2);
  }

  @Test
  void theHubsVerifyCatchesCorruptedUploads() throws IOException {
    Map<String, byte[]> tree = tree(8);
    hub.corrupt(Kind.PART, 1);

    Throwable t = catchThrowable(() -> target(WRITE_TOKEN).publish(write("v", tree), "corrupt"));

    assertThat(t).isInstanceOf(IOException.class).hasMessageContaining("the Hub did not verify model.safetensors")
        .hasMessageContaining("HTTP 422");
    assertThat(hub.commits(REPO)).hasSize(1);
    assertThat(hub.requests(Kind.COMMIT)).isZero();
  }

  @Test
  void republishingReplacesTheFilesInASecondCommit() throws IOException {
    Map<String, byte[]> v1 = tree(9);
    String first = target(WRITE_TOKEN).publish(write("v1", v1), "v1").revision();
    Map<String, byte[]> v2 = tree(10);
    v2.remove("eval/plot.png");
    v2.put("eval/passkey.json", "{\"accuracy\": 1.0}\n".getBytes(StandardCharsets.UTF_8));

    String second = target(WRITE_TOKEN).publish(write("v2", v2), "v2").revision();

    assertThat(second).isNotEqualTo(first).isEqualTo(hub.head(REPO));
    assertThat(hub.commits(REPO)).containsExactly(second, first, hub.commits(REPO).get(2));
    assertSameFiles(hub.files(REPO), v2); // plot.png is gone

    // the same tree again: nothing to commit, the head is the revision
    String third = target(WRITE_TOKEN).publish(write("v2", v2), "v2 again").revision();
    assertThat(third).isEqualTo(second);
    assertThat(hub.commits(REPO)).hasSize(3);
  }

  @Test
  void aConcurrentCommitIsNeverOverwritten() throws IOException {
    target(WRITE_TOKEN).publish(write("v1", tree(11)), "v1");
    String[] theirs = new String[1];
    hub.before(Kind.COMMIT, () -> theirs[0] = hub.commitDirectly(REPO, "someone else",
        Map.of("NOTES.md", "theirs\n".getBytes(StandardCharsets.UTF_8))));

    Throwable t = catchThrowable(() -> target(WRITE_TOKEN).publish(write("v2", tree(12)), "v2"));

    assertThat(t).isInstanceOf(IOException.class).hasMessageContaining("during the publish (another commit)");
    assertThat(hub.head(REPO)).isEqualTo(theirs[0]);
    assertThat(hub.files(REPO)).containsKey("NOTES.md");
  }

  @Test
  void theEndpointComesFromHfEndpoint() {
    assertThat(HubTarget.endpoint(Map.of())).isEqualTo(URI.create("https://huggingface.co"));
    assertThat(HubTarget.endpoint(Map.of("HF_ENDPOINT", "https://hub.internal:8443 "))).isEqualTo(
        URI.create("https://hub.internal:8443"));
    assertThatThrownBy(() -> new HubTarget(StorageUri.parse("hf://datasets/o/n", "f"), Credentials.none(), true))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------------------------------------------------------

  private HubTarget target(String token) {
    return new HubTarget(TARGET, Credentials.of("hf-write-token", Map.of("token", token)), hub.endpoint(), true, FAST);
  }

  /** A model tree: JSON configs, a model card, evaluation results with a plot, and weights over several chunks. */
  private static Map<String, byte[]> tree(int seed) {
    Random r = new Random(seed);
    Map<String, byte[]> t = new TreeMap<>();
    t.put("config.json", ("{\"model_type\": \"llama\", \"max_position_embeddings\": 32768, \"seed\": " + seed + "}\n")
        .getBytes(StandardCharsets.UTF_8));
    t.put("tokenizer.json", text(20_000, seed));
    t.put("README.md", ("---\nlicense: apache-2.0\n---\n# tiny-32k\n\nPoSE extension, run " + seed + ". Ünïcödé.\n")
        .getBytes(StandardCharsets.UTF_8));
    t.put("eval/results.md", ("| length | passkey |\n|---|---|\n| 32768 | " + (90 + seed % 10) + "% |\n")
        .getBytes(StandardCharsets.UTF_8));
    byte[] png = new byte[3000];
    r.nextBytes(png);
    System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'},
        0, png, 0, 16);
    t.put("eval/plot.png", png);
    byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[80000],\"data_offsets\":[0,320000]}}"
        .getBytes(StandardCharsets.UTF_8);
    byte[] weights = new byte[8 + header.length + 320_000];
    ByteBuffer.wrap(weights).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header);
    byte[] data = new byte[320_000];
    r.nextBytes(data);
    System.arraycopy(data, 0, weights, 8 + header.length, data.length);
    t.put("model.safetensors", weights);
    return t;
  }

  private static byte[] text(int size, int seed) {
    StringBuilder b = new StringBuilder("{\"vocab\": {");
    Random r = new Random(seed);
    while (b.length() < size - 3) {
      b.append('"').append((char) ('a' + r.nextInt(26))).append(r.nextInt(1000)).append("\": 1, ");
    }
    return (b.substring(0, size - 3) + "}}\n").getBytes(StandardCharsets.UTF_8);
  }

  private Path write(String name, Map<String, byte[]> tree) throws IOException {
    Path dir = work.resolve(name);
    for (Map.Entry<String, byte[]> e : tree.entrySet()) {
      Path f = dir.resolve(e.getKey());
      Files.createDirectories(f.getParent());
      Files.write(f, e.getValue());
    }
    return dir;
  }

  /** The head holds exactly the tree, plus the Hub's .gitattributes. */
  private static void assertSameFiles(Map<String, byte[]> head, Map<String, byte[]> tree) {
    assertThat(head.keySet()).containsExactlyInAnyOrderElementsOf(
        java.util.stream.Stream.concat(tree.keySet().stream(), java.util.stream.Stream.of(".gitattributes")).toList());
    tree.forEach((path, bytes) -> assertThat(head.get(path)).as(path).isEqualTo(bytes));
  }

  private static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
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
