package io.pose.trainer.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.trainer.fetch.Source.Entry;
import io.pose.trainer.fetch.Source.Listing;
import io.pose.trainer.publish.PublishTarget.Published;
import io.pose.trainer.publish.S3Target;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.S3TestServer;
import io.pose.trainer.storage.StorageUri;
import java.io.FilterInputStream;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;

/**
 * The S3 source against a real S3 server on loopback: s3proxy, in process, with its in-memory store and SigV4
 * authentication (as in the S3 target's test). The model's first shard is a 3-part multipart upload (5 MiB parts).
 */
class S3SourceTest {

  private static final String ACCESS_KEY = "pose-test-access-key";
  private static final String SECRET_KEY = "pose-test-secret-Zq7Wd1";
  private static final String SECRET_NAME = "s3-models";
  private static final String PREFIX = "models/llama-pose";
  private static final int PART = 5 << 20;
  private static final S3Source.Settings SETTINGS = new S3Source.Settings(8, 2);

  private static S3TestServer server;
  private static S3Client admin;
  private static final AtomicInteger BUCKETS = new AtomicInteger();

  @TempDir
  Path dir;
  private String bucket;

  @BeforeAll
  static void startServer() throws Exception {
    server = S3TestServer.start(ACCESS_KEY, SECRET_KEY);
    admin = server.admin();
  }

  @AfterAll
  static void stopServer() {
    server.close();
  }

  @BeforeEach
  void createBucket() {
    bucket = "pose-fetch-" + BUCKETS.incrementAndGet();
    admin.createBucket(b -> b.bucket(bucket));
  }

  @Test
  void aModelTreeIsListedAndDownloadedByteForByte() throws Exception {
    Map<String, byte[]> model = uploadModel();
    // neither folder markers, nor a publish in progress, nor a neighbour that shares the prefix's first letters
    admin.putObject(b -> b.bucket(bucket).key(PREFIX + "/"), RequestBody.empty());
    admin.putObject(b -> b.bucket(bucket).key(PREFIX + "/tokenizer/"), RequestBody.empty());
    put(PREFIX + "/.pose-staging/20250101T000000Z-0a1b2c3d/config.json", bytes("{}"), false);
    put(PREFIX + "-old/config.json", bytes("{}"), false);

    try (S3Source source = source()) {
      Listing listing = source.list();

      assertThat(listing.revision()).matches("[0-9a-f]{32}");
      assertThat(listing.entries()).extracting(Entry::path).containsExactlyElementsOf(model.keySet());
      for (Entry e : listing.entries()) {
        assertThat(e.size()).as(e.path()).isEqualTo(model.get(e.path()).length);
        assertThat(e.etag()).as(e.path()).isEqualTo(admin.headObject(b -> b.bucket(bucket).key(PREFIX + "/" + e.path()))
            .eTag().replace("\"", ""));
      }
      // stored full-object SHA-256 where the upload sent one; none for the multipart shard (a composite of its
      // parts' digests) or for objects uploaded without
      assertThat(entry(listing, "config.json").sha256()).isEqualTo(sha256Hex(model.get("config.json")));
      assertThat(entry(listing, "model-00001-of-00002.safetensors").sha256()).isNull();
      assertThat(entry(listing, "model-00001-of-00002.safetensors").etag()).endsWith("-2");
      assertThat(entry(listing, "tokenizer/tokenizer.json").sha256()).isNull();

      for (Entry e : listing.entries()) {
        Path partial = dir.resolve(e.path().replace('/', '_') + ".partial");
        source.download(e, partial);
        assertThat(Files.readAllBytes(partial)).as(e.path()).isEqualTo(model.get(e.path()));
      }
    }
  }

  @Test
  void aPrefixNamingOneObjectIsThatSingleFile() throws Exception {
    byte[] jsonl = bytes("{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
    put("data/train.jsonl", jsonl, true);
    put("data/train.jsonl.bak", bytes("old"), false);

    try (S3Source source = source("s3://" + bucket + "/data/train.jsonl")) {
      Listing listing = source.list();

      assertThat(listing.entries()).containsExactly(new Entry("train.jsonl", jsonl.length, sha256Hex(jsonl),
          md5Hex(jsonl)));
      Path partial = dir.resolve("train.jsonl.partial");
      source.download(listing.entries().get(0), partial);
      assertThat(Files.readAllBytes(partial)).isEqualTo(jsonl);
    }
    // a new process resuming with the listing it saved decides the same way without listing again
    try (S3Source fresh = source("s3://" + bucket + "/data/train.jsonl")) {
      Path partial = dir.resolve("fresh.partial");
      fresh.download(new Entry("train.jsonl", jsonl.length, sha256Hex(jsonl), md5Hex(jsonl)), partial);
      assertThat(Files.readAllBytes(partial)).isEqualTo(jsonl);
    }
  }

  @Test
  void theRevisionIsStableForUnchangedObjectsAndChangesWithAnyObject() throws Exception {
    uploadModel();
    String first;
    try (S3Source source = source()) {
      first = source.list().revision();
      assertThat(source.list().revision()).isEqualTo(first);
    }
    try (S3Source another = source()) {
      assertThat(another.list().revision()).isEqualTo(first);

      put(PREFIX + "/config.json", bytes("{\"model_type\": \"llama\", \"rope_theta\": 500000}"), false);
      String changed = another.list().revision();
      assertThat(changed).isNotEqualTo(first);

      put(PREFIX + "/generation_config.json", bytes("{}"), false);
      assertThat(another.list().revision()).isNotEqualTo(changed).isNotEqualTo(first);
    }
  }

  @Test
  void aTreePublishedByTheS3TargetIsListedFromItsManifestAndVerified() throws Exception {
    Path tree = dir.resolve("tree");
    Files.createDirectories(tree.resolve("tokenizer"));
    Map<String, byte[]> model = modelFiles();
    for (Map.Entry<String, byte[]> f : model.entrySet()) {
      Files.write(tree.resolve(f.getKey()), f.getValue());
    }
    Published published = new S3Target(uri(PREFIX), credentials(), new S3Target.Settings(PART, 3, 2))
        .publish(tree, "fetch me back");
    // an object no publish wrote is not part of the published model
    put(PREFIX + "/NOTES.txt", bytes("the user's"), false);

    try (S3Source source = source()) {
      Listing listing = source.list();

      assertThat(listing.revision()).isEqualTo(published.revision());
      assertThat(listing.entries()).extracting(Entry::path).containsExactlyElementsOf(model.keySet());
      for (Entry e : listing.entries()) {
        assertThat(e.sha256()).as(e.path()).isEqualTo(sha256Hex(model.get(e.path())));
        assertThat(e.etag()).as(e.path()).isNotBlank();
        Path partial = dir.resolve(e.path().replace('/', '_') + ".partial");
        source.download(e, partial);
        assertThat(Files.readAllBytes(partial)).as(e.path()).isEqualTo(model.get(e.path()));
      }

      // the manifest's SHA-256 is checked: a partial file with wrong first bytes fails, and is deleted
      Entry shard = entry(listing, "model-00001-of-00002.safetensors");
      Path corrupt = dir.resolve("corrupt.partial");
      byte[] start = Arrays.copyOf(model.get(shard.path()), 1000);
      start[17] ^= 1;
      Files.write(corrupt, start);
      assertThatThrownBy(() -> source.download(shard, corrupt))
          .isInstanceOf(ChecksumMismatchException.class)
          .hasMessageContaining("SHA-256")
          .hasMessageContaining(shard.sha256());
      assertThat(corrupt).doesNotExist();
    }
  }

  @Test
  void aPartialFileIsCompletedWithARangedRequestForTheRest() throws Exception {
    Map<String, byte[]> model = uploadModel();
    String path = "model-00001-of-00002.safetensors";
    byte[] whole = model.get(path);
    int have = PART - 1000; // the rest crosses the boundary of the two parts
    Path partial = dir.resolve("shard.partial");
    Files.write(partial, Arrays.copyOf(whole, have));
    List<String> ranges = new CopyOnWriteArrayList<>();
    AtomicLong transferred = new AtomicLong();

    try (S3Source source = source(watchGets(ranges, transferred, Long.MAX_VALUE))) {
      source.download(entry(source.list(), path), partial);
    }

    assertThat(Files.readAllBytes(partial)).isEqualTo(whole);
    assertThat(ranges).containsExactly("bytes=" + have + "-");
    assertThat(transferred.get()).isEqualTo(whole.length - have);
  }

  @Test
  void aBodyThatBreaksOffIsResumedFromTheBytesAlreadyWritten() throws Exception {
    Map<String, byte[]> model = uploadModel();
    String path = "model-00001-of-00002.safetensors";
    List<String> ranges = new CopyOnWriteArrayList<>();
    AtomicLong transferred = new AtomicLong();
    Path partial = dir.resolve("shard.partial");

    // the first response's body breaks after 3 MiB
    try (S3Source source = source(watchGets(ranges, transferred, 3L << 20))) {
      source.download(entry(source.list(), path), partial);
    }

    assertThat(Files.readAllBytes(partial)).isEqualTo(model.get(path));
    assertThat(ranges).hasSize(2);
    assertThat(ranges.get(0)).isNull();
    assertThat(ranges.get(1)).isEqualTo("bytes=" + (3L << 20) + "-");
    assertThat(transferred.get()).isEqualTo(model.get(path).length);
  }

  @Test
  void aCorruptedPartialFileFailsTheEtagsMd5AndIsDeleted() throws Exception {
    Map<String, byte[]> model = uploadModel();
    // uploaded in one part without a checksum: its ETag is the MD5 of its bytes, the only digest there is
    String path = "model-00002-of-00002.safetensors";
    byte[] wrong = Arrays.copyOf(model.get(path), 4096);
    wrong[0] ^= 0x55;
    Path partial = dir.resolve("shard.partial");
    Files.write(partial, wrong);

    try (S3Source source = source()) {
      Entry entry = entry(source.list(), path);
      assertThat(entry.sha256()).isNull();
      assertThatThrownBy(() -> source.download(entry, partial))
          .isInstanceOf(ChecksumMismatchException.class)
          .hasMessageContaining("MD5")
          .hasMessageContaining(entry.etag());
    }
    assertThat(partial).doesNotExist();
  }

  @Test
  void anObjectChangedAfterTheListingFailsClearly() throws Exception {
    uploadModel();
    try (S3Source source = source()) {
      Listing listing = source.list();
      put(PREFIX + "/config.json", bytes("{\"model_type\": \"mistral\"}"), true);
      Path partial = dir.resolve("config.partial");

      assertThatThrownBy(() -> source.download(entry(listing, "config.json"), partial))
          .isInstanceOf(IOException.class)
          .isNotInstanceOf(ChecksumMismatchException.class)
          .hasMessageContaining("s3://" + bucket + "/" + PREFIX + "/config.json changed since it was listed")
          .hasMessageContaining("new revision");
    }
  }

  @Test
  void aMissingBucketIsNotFound() {
    try (S3Source source = source("s3://no-such-bucket-here/" + PREFIX)) {
      assertThatThrownBy(source::list)
          .isInstanceOf(SourceNotFoundException.class)
          .hasMessageContaining("the bucket \"no-such-bucket-here\" does not exist");
    }
  }

  @Test
  void aPrefixWithNothingUnderItIsNotFound() throws Exception {
    put("models/other/config.json", bytes("{}"), false);
    // only a folder marker and a publish's leftovers: nothing to fetch
    admin.putObject(b -> b.bucket(bucket).key(PREFIX + "/"), RequestBody.empty());
    put(PREFIX + "/.pose-staging/20250101T000000Z-0a1b2c3d/config.json", bytes("{}"), false);

    try (S3Source source = source()) {
      assertThatThrownBy(source::list)
          .isInstanceOf(SourceNotFoundException.class)
          .hasMessageContaining("no object s3://" + bucket + "/" + PREFIX + " and none under s3://" + bucket + "/"
              + PREFIX + "/");
    }
  }

  @Test
  void aWrongSecretKeyIsRejectedCredentialsWithoutTheSecret() throws Exception {
    uploadModel();
    String wrong = "wrong-secret-value-Kd93";
    Credentials credentials = Credentials.of(SECRET_NAME, Map.of("accessKeyId", ACCESS_KEY,
        "secretAccessKey", wrong, "endpoint", server.uri().toString(), "region", "us-east-1"));

    try (S3Source source = new S3Source(uri(PREFIX), credentials, SETTINGS)) {
      assertThatThrownBy(source::list)
          .isInstanceOf(CredentialsException.class)
          .hasMessageContaining("bucket \"" + bucket + "\"")
          .hasMessageContaining("Secret \"" + SECRET_NAME + "\"")
          .hasMessageContaining("SignatureDoesNotMatch")
          .message().doesNotContain(wrong).doesNotContain(SECRET_KEY);
    }
  }

  // ---- the bucket's contents

  /** A model-shaped tree, sorted by path: the first shard spans 2 parts (one multipart upload), the second one. */
  private static Map<String, byte[]> modelFiles() {
    Random random = new Random(42);
    byte[] shard1 = new byte[PART + 1_234_567];
    byte[] shard2 = new byte[1_500_000];
    random.nextBytes(shard1);
    random.nextBytes(shard2);
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("config.json", bytes("{\"model_type\": \"llama\", \"rope_theta\": 10000}"));
    files.put("model-00001-of-00002.safetensors", shard1);
    files.put("model-00002-of-00002.safetensors", shard2);
    files.put("model.safetensors.index.json",
        bytes("{\"weight_map\": {\"embed\": \"model-00001-of-00002.safetensors\"}}"));
    files.put("tokenizer/tokenizer.json", bytes("{\"vocab\": {}}"));
    return files;
  }

  /** The tree as a user's own tool would upload it: config.json with a SHA-256, shard 1 in parts, the rest plain. */
  private Map<String, byte[]> uploadModel() {
    Map<String, byte[]> files = modelFiles();
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      String key = PREFIX + "/" + f.getKey();
      if (f.getKey().equals("model-00001-of-00002.safetensors")) {
        putMultipart(key, f.getValue());
      } else {
        put(key, f.getValue(), f.getKey().equals("config.json"));
      }
    }
    return files;
  }

  private void put(String key, byte[] bytes, boolean withSha256) {
    admin.putObject(b -> b.bucket(bucket).key(key).checksumSHA256(withSha256 ? base64(sha256(bytes)) : null),
        RequestBody.fromBytes(bytes));
  }

  private void putMultipart(String key, byte[] bytes) {
    String uploadId = admin.createMultipartUpload(b -> b.bucket(bucket).key(key)
        .checksumAlgorithm(ChecksumAlgorithm.SHA256)).uploadId();
    List<CompletedPart> parts = new ArrayList<>();
    for (int from = 0, number = 1; from < bytes.length; from += PART, number++) {
      byte[] part = Arrays.copyOfRange(bytes, from, Math.min(bytes.length, from + PART));
      int n = number;
      String checksum = base64(sha256(part));
      String etag = admin.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId).partNumber(n)
          .checksumSHA256(checksum), RequestBody.fromBytes(part)).eTag();
      parts.add(CompletedPart.builder().partNumber(n).eTag(etag).checksumSHA256(checksum).build());
    }
    admin.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId)
        .multipartUpload(m -> m.parts(parts)));
  }

  private static Entry entry(Listing listing, String path) {
    return listing.entries().stream().filter(e -> e.path().equals(path)).findFirst().orElseThrow();
  }

  // ---- sources

  private Credentials credentials() {
    return Credentials.of(SECRET_NAME, Map.of("accessKeyId", ACCESS_KEY, "secretAccessKey", SECRET_KEY,
        "endpoint", server.uri().toString(), "region", "us-east-1"));
  }

  private StorageUri uri(String prefix) {
    return StorageUri.parse("s3://" + bucket + "/" + prefix, "spec.model.uri");
  }

  private S3Source source() {
    return source(UnaryOperator.identity());
  }

  private S3Source source(String uri) {
    return new S3Source(StorageUri.parse(uri, "spec.model.uri"), credentials(), SETTINGS);
  }

  private S3Source source(UnaryOperator<S3Client> decorator) {
    return new S3Source(uri(PREFIX), credentials(), SETTINGS, decorator);
  }

  /**
   * A client that records every GetObject's Range header (null for none) and counts the body bytes the source
   * reads; the first body breaks off with an IOException after {@code breakAfter} bytes.
   */
  private static UnaryOperator<S3Client> watchGets(List<String> ranges, AtomicLong transferred, long breakAfter) {
    AtomicBoolean broken = new AtomicBoolean();
    return real -> (S3Client) Proxy.newProxyInstance(S3Client.class.getClassLoader(),
        new Class<?>[] {S3Client.class}, (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          if (!method.getName().equals("getObject") || args.length != 1
              || !(args[0] instanceof GetObjectRequest request)) {
            return result;
          }
          ranges.add(request.range());
          @SuppressWarnings("unchecked")
          ResponseInputStream<GetObjectResponse> in = (ResponseInputStream<GetObjectResponse>) result;
          boolean breaks = broken.compareAndSet(false, true) && breakAfter != Long.MAX_VALUE;
          return new ResponseInputStream<>(in.response(), new Counting(in, transferred, breaks ? breakAfter : -1));
        });
  }

  /** Counts the bytes read; with {@code breakAfter >= 0}, fails once that many were read, as a dropped connection. */
  private static final class Counting extends FilterInputStream {
    private final ResponseInputStream<?> real;
    private final AtomicLong transferred;
    private final long breakAfter;
    private long read;

    Counting(ResponseInputStream<?> real, AtomicLong transferred, long breakAfter) {
      super(real);
      this.real = real;
      this.transferred = transferred;
      this.breakAfter = breakAfter;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (breakAfter >= 0 && read >= breakAfter) {
        real.abort();
        throw new IOException("injected: connection reset");
      }
      int n = in.read(b, off, breakAfter >= 0 ? (int) Math.min(len, breakAfter - read) : len);
      if (n > 0) {
        read += n;
        transferred.addAndGet(n);
      }
      return n;
    }
  }

  // ---- bytes

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private static byte[] sha256(byte[] bytes) {
    return digest("SHA-256", bytes);
  }

  private static String sha256Hex(byte[] bytes) {
    return HexFormat.of().formatHex(sha256(bytes));
  }

  private static String md5Hex(byte[] bytes) {
    return HexFormat.of().formatHex(digest("MD5", bytes));
  }

  private static byte[] digest(String algorithm, byte[] bytes) {
    try {
      return MessageDigest.getInstance(algorithm).digest(bytes);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}
