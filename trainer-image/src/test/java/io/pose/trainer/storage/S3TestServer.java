package io.pose.trainer.storage;

import java.net.URI;
import java.util.Map;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.junit.S3ProxyJunitCore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3-compatible server on loopback for tests and benchmarks: s3proxy in this process with its in-memory store
 * and AWS signature checking, plus an admin client for setting up buckets and reading what arrived.
 */
public final class S3TestServer implements AutoCloseable {

  private final S3ProxyJunitCore server;
  private final S3Client admin;
  private final String accessKey;
  private final String secretKey;

  private S3TestServer(S3ProxyJunitCore server, String accessKey, String secretKey) {
    this.server = server;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
    this.admin = S3Client.builder()
        .endpointOverride(server.getUri())
        .forcePathStyle(true)
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .build();
  }

  /** Starts a server that accepts these keys only. */
  public static S3TestServer start(String accessKey, String secretKey) throws Exception {
    S3ProxyJunitCore server = new S3ProxyJunitCore.Builder()
        .withBlobStoreProvider("transient")
        .withCredentials(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
        .build();
    server.beforeEach();
    return new S3TestServer(server, accessKey, secretKey);
  }

  public URI uri() {
    return server.getUri();
  }

  /** A client with the server's keys, for setting up and checking buckets. */
  public S3Client admin() {
    return admin;
  }

  /** The keys of a credentials Secret for this server, as a stage pod would find them mounted. */
  public Map<String, String> secretKeys() {
    return Map.of("accessKeyId", accessKey, "secretAccessKey", secretKey, "endpoint", uri().toString(),
        "region", "us-east-1");
  }

  @Override
  public void close() {
    admin.close();
    server.afterEach();
  }
}
