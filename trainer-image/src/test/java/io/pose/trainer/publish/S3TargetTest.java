package io.pose.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.trainer.publish.PublishTarget.Published;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.CredentialsException;
import io.pose.trainer.storage.S3TestServer;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The S3 target against a real S3 server on loopback: s3proxy, in process, with its in-memory store and SigV4
 * authentication. Parts are 5 MiB (S3's smallest), so an 11 MiB file goes up, and is copied into place, in 3 parts.
 */
class S3TargetTest {

  private static final String ACCESS_KEY = "pose-test-access-key";
  private static final String SECRET_KEY = "pose-test-secret-Zq7Wd1";
  private static final String SECRET_NAME = "s3-publish";
  private static final String PREFIX = "models/llama-pose";
  private static final long PART = 5L << 20;
  private static final S3Target.Settings SETTINGS = new S3Target.Settings(PART, 3, 2);

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
    bucket = "pose-publish-" + BUCKETS.incrementAndGet();
    admin.createBucket(b -> b.bucket(bucket));
  }

  @Test
  void publishesEveryFileByteForByteAndCommitsWithTheManifestLast() throws Exception {
    Path tree = tree("v1");
    Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

    Published published = target(credentials(), counting(calls)).publish(tree, "first publish");

    assertThat(published.uri()).isEqualTo("s3://" + bucket + "/" + PREFIX);
    HeadObjectResponse manifestHead = admin.headObject(b -> b.bucket(bucket).key(PREFIX + "/pose-manifest.json"));
    assertThat(published.revision()).isNotBlank().isEqualTo(manifestHead.eTag().replace("\"", ""));
    assertMatches(tree);
    S3Manifest manifest = manifest();
    assertThat(manifest.schemaVersion()).isEqualTo(1);
    assertThat(manifest.message()).isEqualTo("first publish");
    assertThat(manifest.publishId()).matches("\\d{8}T\\d{6}Z-[0-9a-f]{8}");
    // the 11 MiB file really went up in parts, and was copied into place part by part
    assertThat(calls.get("uploadPart")).hasValue(3);
    assertThat(calls.get("uploadPartCopy")).hasValue(3);
    assertThat(calls.get("putObject")).hasValue(4 + 2); // 4 small files, the journal, the manifest
    assertNoLeftovers();
  }

  @Test
  void theStoreKeepsTheChecksumsItWasSent() throws Exception {
    // without stored checksums the verification would fall back to sizes: make sure this store is not such a case
    Path tree = tree("v1");
    Set<String> verified = ConcurrentHashMap.newKeySet();
    UnaryOperator<S3Client> watchHeads = real -> intercept(real, (method, args, result) -> {
      if (method.equals("headObject") && ((HeadObjectResponse) result).checksumSHA256() != null) {
        verified.add(((HeadObjectResponse) result).checksumSHA256());
      }
      return result;
    });

    target(credentials(), watchHeads).publish(tree, "checksums");

    assertThat(verified).contains(base64(sha256(Files.readAllBytes(tree.resolve("config.json")))))
        .anyMatch(c -> c.endsWith("-3")); // the composite checksum of the 3-part file
  }

  @Test
  void publishesToTheBucketRoot() throws Exception {
    Path tree = tree("v1");
    S3Target root = new S3Target(StorageUri.parse("s3://" + bucket + "/", "spec.publish.target"), credentials(),
        SETTINGS);

    Published published = root.publish(tree, "at the root");

    assertThat(published.uri()).isEqualTo("s3://" + bucket);
    assertThat(keys()).contains("pose-manifest.json", "model.safetensors", "tokenizer/special/added_tokens.json")
        .noneMatch(k -> k.startsWith(".pose-staging/"));
  }

  @Test
  void aStoredChecksumThatDiffersFromTheLocalFileFailsThePublish() throws Exception {
    Path tree = tree("v1");
    UnaryOperator<S3Client> corrupt = real -> intercept(real, (method, args, result) ->
        method.equals("headObject") && ((HeadObjectResponse) result).checksumSHA256() != null
            ? ((HeadObjectResponse) result).toBuilder().checksumSHA256(base64(sha256(new byte[] {1}))).build()
            : result);

    assertThatThrownBy(() -> target(credentials(), corrupt).publish(tree, "corrupt"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("verification failed: the store's SHA-256 is");
    assertThat(keys()).isEmpty();
    assertThat(openUploads()).isZero();
  }

  @Test
  void aWrongSecretKeyIsRejectedCredentialsNamingTheBucketAndTheSecret() throws Exception {
    Path tree = tree("v1");
    String wrong = "wrong-secret-value-Kd93";
    Credentials credentials = Credentials.of(SECRET_NAME, Map.of("accessKeyId", ACCESS_KEY,
        "secretAccessKey", wrong, "endpoint", server.uri().toString(), "region", "us-east-1"));

    assertThatThrownBy(() -> target(credentials).publish(tree, "wrong key"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("bucket \"" + bucket + "\"")
        .hasMessageContaining("Secret \"" + SECRET_NAME + "\"")
        .hasMessageContaining("SignatureDoesNotMatch")
        .message().doesNotContain(wrong).doesNotContain(SECRET_KEY);
    assertThat(keys()).isEmpty();
  }

  @Test
  void anUnknownAccessKeyIsRejectedCredentials() throws Exception {
    Path tree = tree("v1");
    Credentials credentials = Credentials.of(SECRET_NAME, Map.of("accessKeyId", "nobody",
        "secretAccessKey", SECRET_KEY, "endpoint", server.uri().toString()));

    assertThatThrownBy(() -> target(credentials).publish(tree, "unknown key"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("bucket \"" + bucket + "\"")
        .hasMessageContaining("Secret \"" + SECRET_NAME + "\"")
        .message().doesNotContain(SECRET_KEY);
  }

  @Test
  void aSecretWithoutTheSecretAccessKeyNamesTheMissingKey() throws Exception {
    Path tree = tree("v1");
    Credentials credentials = Credentials.of(SECRET_NAME, Map.of("accessKeyId", ACCESS_KEY,
        "endpoint", server.uri().toString()));

    assertThatThrownBy(() -> target(credentials).publish(tree, "half a key"))
        .isInstanceOf(CredentialsException.class)
        .hasMessageContaining("Secret \"" + SECRET_NAME + "\" has no key \"secretAccessKey\"");
  }

  @Test
  void withoutAccessKeysTheDefaultProviderChainSupplies() throws Exception {
    Path tree = tree("v1");
    // the Secret names only the store; the SDK's chain finds the keys (here in system properties, on a pod in the
    // web identity token or the container role)
    Credentials storeOnly = Credentials.of("s3-endpoint", Map.of("endpoint", server.uri().toString()));
    System.setProperty("aws.accessKeyId", ACCESS_KEY);
    System.setProperty("aws.secretAccessKey", SECRET_KEY);
    try {
      target(storeOnly).publish(tree, "default chain");
    } finally {
      System.clearProperty("aws.accessKeyId");
      System.clearProperty("aws.secretAccessKey");
    }
    assertMatches(tree);
  }

  @Test
  void aMissingBucketIsAClearIoError() throws Exception {
    Path tree = tree("v1");
    S3Target target = new S3Target(StorageUri.parse("s3://no-such-bucket-here/" + PREFIX, "spec.publish.target"),
        credentials(), SETTINGS);

    assertThatThrownBy(() -> target.publish(tree, "nowhere"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("the bucket \"no-such-bucket-here\" does not exist");
  }

  @Test
  void aFailureWhileStagingLeavesNothingAtAll() throws Exception {
    Path tree = tree("v1");

    assertThatThrownBy(() -> target(credentials(), failOn("uploadPart", 2)).publish(tree, "fails"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("injected");

    // no manifest, no final key, no staging object, no journal, no open multipart upload
    assertThat(keys()).isEmpty();
    assertThat(openUploads()).isZero();
  }

  @Test
  void aFailureWhileStagingKeepsThePreviousPublishIntact() throws Exception {
    Path v1 = tree("v1");
    Published first = target(credentials()).publish(v1, "v1");
    Path v2 = tree("v2");

    assertThatThrownBy(() -> target(credentials(), failOn("uploadPart", 3)).publish(v2, "v2"))
        .isInstanceOf(IOException.class);

    assertThat(manifestEtag()).isEqualTo(first.revision());
    assertMatches(v1);
    assertNoLeftovers();
  }

  @Test
  void republishingReplacesTheManifestAndRemovesFilesTheNewTreeLacks() throws Exception {
    Path v1 = tree("v1");
    Files.writeString(v1.resolve("eval/old-results.md"), "only in v1");
    Published first = target(credentials()).publish(v1, "v1");
    // an object no publish wrote stays
    admin.putObject(b -> b.bucket(bucket).key(PREFIX + "/NOTES.txt"), RequestBody.fromString("the user's"));
    Path v2 = tree("v2");

    Published second = target(credentials()).publish(v2, "v2");

    assertThat(second.revision()).isNotEqualTo(first.revision()).isEqualTo(manifestEtag());
    assertThat(manifest().message()).isEqualTo("v2");
    assertMatches(v2);
    assertThat(keys()).doesNotContain(PREFIX + "/eval/old-results.md").contains(PREFIX + "/NOTES.txt");
    assertNoLeftovers();
  }

  @Test
  void aFailureWhilePromotingLeavesNoManifestAndTheNextPublishCompletesCleanly() throws Exception {
    Path v1 = tree("v1");
    Files.writeString(v1.resolve("eval/old-results.md"), "only in v1");
    target(credentials()).publish(v1, "v1");
    Path v2 = tree("v2");

    assertThatThrownBy(() -> target(credentials(), failOn("uploadPartCopy", 2)).publish(v2, "v2"))
        .isInstanceOf(IOException.class);

    // some final keys may hold v2 already: no manifest vouches for them
    assertThat(keys()).doesNotContain(PREFIX + "/pose-manifest.json")
        .noneMatch(k -> k.startsWith(PREFIX + "/.pose-staging/") && !k.endsWith(".json"));
    assertThat(openUploads()).isZero();

    Published retry = target(credentials()).publish(v2, "v2 again");

    assertThat(retry.revision()).isEqualTo(manifestEtag());
    assertMatches(v2);
    assertThat(keys()).doesNotContain(PREFIX + "/eval/old-results.md");
    assertNoLeftovers();
  }

  @Test
  void aPublishKilledMidwayIsSweptByTheNextOne() throws Exception {
    Path v1 = tree("v1");
    Files.writeString(v1.resolve("eval/old-results.md"), "only in v1");
    target(credentials()).publish(v1, "v1");
    Path v2 = tree("v2");

    // from the second part copy on every request fails, the clean-up's too: what a killed pod leaves behind
    assertThatThrownBy(() -> target(credentials(), dieFrom("uploadPartCopy", 2)).publish(v2, "v2"))
        .isInstanceOf(IOException.class);
    assertThat(keys()).doesNotContain(PREFIX + "/pose-manifest.json")
        .anyMatch(k -> k.startsWith(PREFIX + "/.pose-staging/"));
    assertThat(openUploads()).isPositive();

    target(credentials()).publish(v2, "v2 again");

    assertMatches(v2);
    assertThat(keys()).doesNotContain(PREFIX + "/eval/old-results.md");
    assertNoLeftovers();
  }

  @Test
  void aTreeMayNotUseTheTargetsReservedNames() throws Exception {
    Path tree = tree("v1");
    Files.writeString(tree.resolve("pose-manifest.json"), "{}");

    assertThatThrownBy(() -> target(credentials()).publish(tree, "reserved"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"pose-manifest.json\" is reserved");
  }

  @Test
  void settingsOutsideS3LimitsAreRejected() {
    assertThatThrownBy(() -> new S3Target.Settings(1 << 20, 4, 5))
        .hasMessage("partSize: 1048576 is not in [5 MiB, 5 GiB] (S3's part sizes)");
  }

  // ---- the tree

  /** Small files, an empty one, nested folders and an 11 MiB file: 3 parts of 5 MiB. */
  private Path tree(String version) throws IOException {
    Path tree = dir.resolve(version);
    Files.createDirectories(tree.resolve("tokenizer/special"));
    Files.createDirectories(tree.resolve("eval"));
    Random random = new Random(version.hashCode());
    byte[] weights = new byte[(int) (2 * PART + 1_234_567)];
    random.nextBytes(weights);
    Files.write(tree.resolve("model.safetensors"), weights);
    Files.writeString(tree.resolve("config.json"), "{\"model_type\": \"llama\", \"version\": \"" + version + "\"}");
    Files.writeString(tree.resolve("tokenizer/tokenizer.json"), "{\"vocab\": {}}");
    Files.write(tree.resolve("tokenizer/special/added_tokens.json"), new byte[0]);
    Files.writeString(tree.resolve("eval/results.md"), "# passkey " + version);
    return tree;
  }

  private Map<String, byte[]> localFiles(Path tree) throws IOException {
    Map<String, byte[]> files = new TreeMap<>();
    try (var walk = Files.walk(tree)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        files.put(tree.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
      }
    }
    return files;
  }

  // ---- what the bucket holds

  /** Every file at its final key byte for byte, and the manifest listing exactly them with sizes and SHA-256. */
  private void assertMatches(Path tree) throws IOException {
    Map<String, byte[]> local = localFiles(tree);
    for (Map.Entry<String, byte[]> f : local.entrySet()) {
      byte[] stored = admin.getObjectAsBytes(b -> b.bucket(bucket).key(PREFIX + "/" + f.getKey())).asByteArray();
      assertThat(stored).as(f.getKey()).isEqualTo(f.getValue());
    }
    Map<String, S3Manifest.Entry> expected = new TreeMap<>();
    local.forEach((path, bytes) -> expected.put(path,
        new S3Manifest.Entry(path, bytes.length, HexFormat.of().formatHex(sha256(bytes)))));
    assertThat(manifest().files()).containsExactlyElementsOf(expected.values());
  }

  private void assertNoLeftovers() {
    assertThat(keys()).noneMatch(k -> k.contains("/.pose-staging/"));
    assertThat(openUploads()).isZero();
  }

  private S3Manifest manifest() throws IOException {
    return S3Manifest.parse(admin.getObjectAsBytes(b -> b.bucket(bucket).key(PREFIX + "/pose-manifest.json"))
        .asByteArray(), "test");
  }

  private String manifestEtag() {
    return admin.headObject(b -> b.bucket(bucket).key(PREFIX + "/pose-manifest.json")).eTag().replace("\"", "");
  }

  private List<String> keys() {
    return admin.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().map(S3Object::key).toList();
  }

  private int openUploads() {
    return admin.listMultipartUploads(b -> b.bucket(bucket)).uploads().size();
  }

  // ---- targets and injected failures

  private Credentials credentials() {
    return Credentials.of(SECRET_NAME, Map.of("accessKeyId", ACCESS_KEY, "secretAccessKey", SECRET_KEY,
        "endpoint", server.uri().toString(), "region", "us-east-1"));
  }

  private S3Target target(Credentials credentials) {
    return target(credentials, UnaryOperator.identity());
  }

  private S3Target target(Credentials credentials, UnaryOperator<S3Client> decorator) {
    return new S3Target(StorageUri.parse("s3://" + bucket + "/" + PREFIX, "spec.publish.target"), credentials,
        SETTINGS, decorator);
  }

  @FunctionalInterface
  private interface Hook {
    Object after(String method, Object[] args, Object result);
  }

  /** A client that runs every call through the real one and hands the result to the hook. */
  private static S3Client intercept(S3Client real, Hook hook) {
    return (S3Client) Proxy.newProxyInstance(S3Client.class.getClassLoader(), new Class<?>[] {S3Client.class},
        (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          return hook.after(method.getName(), args, result);
        });
  }

  /** A client whose calls of the method fail from the n-th on (the others go through). */
  private static UnaryOperator<S3Client> failOn(String failing, int n) {
    AtomicInteger count = new AtomicInteger();
    return real -> (S3Client) Proxy.newProxyInstance(S3Client.class.getClassLoader(),
        new Class<?>[] {S3Client.class}, (proxy, method, args) -> {
          if (method.getName().equals(failing) && count.incrementAndGet() >= n) {
            throw SdkClientException.create("injected failure in " + failing + " #" + count.get());
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /** A client whose every call fails once the n-th call of the method was made: the process died there. */
  private static UnaryOperator<S3Client> dieFrom(String method, int n) {
    AtomicInteger count = new AtomicInteger();
    AtomicBoolean dead = new AtomicBoolean();
    return real -> (S3Client) Proxy.newProxyInstance(S3Client.class.getClassLoader(),
        new Class<?>[] {S3Client.class}, (proxy, m, args) -> {
          if (m.getName().equals(method) && count.incrementAndGet() >= n) {
            dead.set(true);
          }
          if (dead.get() && !m.getName().equals("close")) {
            throw SdkClientException.create("injected: the process is gone");
          }
          try {
            return m.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  private static UnaryOperator<S3Client> counting(Map<String, AtomicInteger> calls) {
    return real -> intercept(real, (method, args, result) -> {
      calls.computeIfAbsent(method, m -> new AtomicInteger()).incrementAndGet();
      return result;
    });
  }

  // ---- bytes

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String base64(byte[] bytes) {
    return java.util.Base64.getEncoder().encodeToString(bytes);
  }
}
