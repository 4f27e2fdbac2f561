package io.pose.trainer.storage;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * What the S3 target and the S3 source share about one {@code s3://bucket/prefix}: the client built from the
 * credentials Secret, and S3's errors turned into this project's exceptions.
 *
 * <p><b>Credentials</b> come from the Secret's keys {@code accessKeyId}, {@code secretAccessKey} and optional
 * {@code sessionToken}; {@code region} and {@code endpoint} (an S3-compatible store, addressed path-style) are
 * optional. Without access keys the AWS default provider chain applies (environment, web identity, container and
 * instance roles). Messages never carry the Secret's values.
 */
public final class S3Clients {

  private static final System.Logger LOG = System.getLogger(S3Clients.class.getName());
  private static final Set<String> CREDENTIAL_ERRORS = Set.of("InvalidAccessKeyId", "SignatureDoesNotMatch",
      "AccessDenied", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "InvalidSecurity");

  private final StorageUri uri;
  private final String bucket;
  private final Credentials credentials;
  private final String secretField;
  private final String permissions;
  private final Function<String, IOException> missingBucket;

  /**
   * @param uri the s3:// location, named in every message
   * @param credentials the Secret's keys
   * @param secretField the spec field that names the Secret ("spec.publish.credentialsSecret"), for the message
   *     when neither the Secret nor the default chain has credentials
   * @param permissions what the credentials must be allowed here ("list and read"), for the rejected-credentials hint
   * @param missingBucket the exception for a bucket that does not exist, given its message (a target fails with a
   *     plain IOException, a source with its not-found exception)
   */
  public S3Clients(StorageUri uri, Credentials credentials, String secretField, String permissions,
      Function<String, IOException> missingBucket) {
    if (uri.scheme() != StorageUri.Scheme.S3) {
      throw new IllegalArgumentException("\"" + uri + "\" is not an s3:// URI");
    }
    this.uri = uri;
    this.bucket = uri.authority();
    this.credentials = credentials;
    this.secretField = secretField;
    this.permissions = permissions;
    this.missingBucket = missingBucket;
  }

  /** A client and the credentials provider it signs with; closing it closes both (the client leaves it open). */
  public record Connection(S3Client s3, AwsCredentialsProvider provider) implements AutoCloseable {
    @Override
    public void close() {
      s3.close();
      closeQuietly(provider);
    }
  }

  /**
   * Builds a client for the Secret's store.
   *
   * @param maxConnections the HTTP connection pool's size (at least the requests in flight at once)
   * @param maxAttempts attempts per request under the SDK's standard retry strategy (throttling, 5xx and network
   *     errors back off exponentially with jitter)
   * @throws CredentialsException when the Secret has half a key pair, a malformed endpoint, or no keys while the
   *     default chain finds none either
   */
  public Connection connect(int maxConnections, int maxAttempts) {
    AwsCredentialsProvider provider = credentialsProvider();
    try {
      return new Connection(client(provider, maxConnections, maxAttempts), provider);
    } catch (RuntimeException e) {
      closeQuietly(provider);
      throw e;
    }
  }

  private static void closeQuietly(AwsCredentialsProvider provider) {
    if (provider instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        LOG.log(System.Logger.Level.DEBUG, "closing the credentials provider failed", e);
      }
    }
  }

  private AwsCredentialsProvider credentialsProvider() {
    String purpose = "accessing " + uri;
    if (credentials.get("accessKeyId").isEmpty() && credentials.get("secretAccessKey").isEmpty()) {
      DefaultCredentialsProvider chain = DefaultCredentialsProvider.builder().build();
      try {
        chain.resolveCredentials();
      } catch (SdkClientException e) {
        chain.close();
        throw new CredentialsException(uri + ": " + (credentials.secret() == null
            ? "no credentials Secret is set (" + secretField + ")"
            : "Secret \"" + credentials.secret() + "\" has no keys accessKeyId and secretAccessKey")
            + ", and the default AWS credentials chain found none", e);
      }
      return chain;
    }
    String id = credentials.require("accessKeyId", purpose);
    String secret = credentials.require("secretAccessKey", purpose);
    Optional<String> token = credentials.get("sessionToken");
    return StaticCredentialsProvider.create(token.isPresent()
        ? AwsSessionCredentials.create(id, secret, token.get())
        : AwsBasicCredentials.create(id, secret));
  }

  private S3Client client(AwsCredentialsProvider provider, int maxConnections, int maxAttempts) {
    S3ClientBuilder builder = S3Client.builder()
        .credentialsProvider(provider)
        .httpClientBuilder(Apache5HttpClient.builder().maxConnections(maxConnections))
        // the SHA-256 values the callers compute travel as plain headers; the SDK's own default (CRC32 in an
        // aws-chunked trailer on every upload) is what S3-compatible stores most often reject
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .overrideConfiguration(o -> o.retryStrategy(
            AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(maxAttempts).build()));
    Optional<String> region = credentials.get("region");
    Optional<String> endpoint = credentials.get("endpoint");
    if (endpoint.isPresent()) {
      // S3-compatible stores: path-style works on all of them; SigV4 needs some region, and most accept us-east-1
      builder.endpointOverride(endpoint(endpoint.get())).forcePathStyle(true)
          .region(Region.of(region.orElse("us-east-1")));
    } else {
      // AWS: a bucket in another region than the one configured is followed, not an error
      builder.region(region.map(Region::of).orElseGet(S3Clients::defaultRegion)).crossRegionAccessEnabled(true);
    }
    return builder.build();
  }

  private URI endpoint(String value) {
    try {
      URI endpoint = new URI(value);
      if (("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))
          && endpoint.getHost() != null) {
        return endpoint;
      }
    } catch (URISyntaxException e) {
      // reported below, without the value
    }
    throw new CredentialsException(uri + ": Secret \"" + credentials.secret()
        + "\": the key \"endpoint\" is not an http:// or https:// URL");
  }

  private static Region defaultRegion() {
    try {
      return new DefaultAwsRegionProviderChain().getRegion();
    } catch (SdkClientException e) {
      return Region.US_EAST_1;
    }
  }

  // ---- errors

  /** One SDK call, its failure turned into this project's exceptions ({@link #failure}). */
  public <T> T call(String action, Supplier<T> request) throws IOException {
    try {
      return request.get();
    } catch (SdkException e) {
      throw failure(action, e);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /**
   * Translates a failed request: a missing bucket into the constructor's exception, an interrupt into
   * {@link InterruptedIOException}, anything else into an IOException naming the URI and the action.
   *
   * @param action what was being done, in the gerund ("listing s3://bucket/prefix/")
   * @throws CredentialsException for rejected credentials (HTTP 403 or a credentials error code), naming the bucket
   *     and the Secret
   */
  public IOException failure(String action, SdkException e) {
    if (e instanceof S3Exception s3) {
      String code = errorCode(s3);
      if (e instanceof NoSuchBucketException || "NoSuchBucket".equals(code)) {
        return missingBucket.apply(uri + ": the bucket \"" + bucket + "\" does not exist"
            + (credentials.get("endpoint").isPresent() ? " at the Secret's endpoint" : "") + " (" + action + ")");
      }
      if (s3.statusCode() == 403 || rejectsCredentials(code)) {
        throw new CredentialsException(uri + ": bucket \"" + bucket + "\" rejected the credentials ("
            + (code == null ? "HTTP " + s3.statusCode() : code) + " while " + action + "); " + credentialsHint(), e);
      }
    }
    if (e instanceof SdkClientException && e.getCause() instanceof InterruptedException) {
      return new InterruptedIOException(uri + ": interrupted " + action);
    }
    return new IOException(uri + ": " + action + " failed: " + e.getMessage(), e);
  }

  /** Whether an S3 error code (of a request or of one key in a batch) means the credentials were rejected. */
  public static boolean rejectsCredentials(String code) {
    return code != null && CREDENTIAL_ERRORS.contains(code);
  }

  /** The S3 error code, or null (HEAD responses have no body to carry one). */
  public static String errorCode(S3Exception e) {
    return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
  }

  /** What to check when the store rejects the credentials: the Secret's key names, never their values. */
  public String credentialsHint() {
    return credentials.secret() == null
        ? "check the credentials the default AWS chain found, and that they may " + permissions + " here"
        : "check the keys accessKeyId and secretAccessKey (and sessionToken) of Secret \"" + credentials.secret()
            + "\", and that they may " + permissions + " here";
  }

  /** {@code s3://bucket/key}. */
  public String s3(String key) {
    return "s3://" + bucket + "/" + key;
  }

  /** An ETag without the quotes S3 sends it in. */
  public static String unquote(String etag) {
    return etag != null && etag.length() > 1 && etag.startsWith("\"") && etag.endsWith("\"")
        ? etag.substring(1, etag.length() - 1) : etag;
  }
}
