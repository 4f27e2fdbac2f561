package io.pose.trainer.bench;

import io.pose.trainer.fetch.Fetcher;
import io.pose.trainer.fetch.HubSource;
import io.pose.trainer.fetch.ModelFiles;
import io.pose.trainer.fetch.S3Source;
import io.pose.trainer.fetch.Source;
import io.pose.trainer.io.AtomicDirectory;
import io.pose.trainer.storage.Credentials;
import io.pose.trainer.storage.S3TestServer;
import io.pose.trainer.storage.StorageUri;
import io.pose.trainer.storage.hub.LocalHub;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Download throughput of the Fetch stage from the loopback servers the tests use (LocalHub for the Hub, s3proxy for
 * S3) for a ~1 GB model-shaped tree (four 256 MiB safetensors shards, index, config, tokenizer), with 1 and 8
 * parallel streams. Every byte is verified (SHA-256) as it arrives, and each run starts from an empty cache. Prints
 * a Markdown table and writes it into docs/benchmarks.md.
 *
 * <pre>./mvnw -q -pl trainer-image test-compile exec:exec@fetch-benchmark</pre>
 */
public final class FetchBenchmark {

  static final String BEGIN = "<!-- fetch-throughput:begin -->";
  static final String END = "<!-- fetch-throughput:end -->";
  static final int SHARDS = 4;
  static final int SHARD_BYTES = 256 << 20;

  public static void main(String[] args) throws Exception {
    Path work = Files.createTempDirectory("pose-fetch-bench");
    Map<String, byte[]> tree = new LinkedHashMap<>();
    Random random = new Random(3);
    StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < SHARDS; i++) {
      byte[] shard = new byte[SHARD_BYTES];
      random.nextBytes(shard);
      String name = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, SHARDS);
      tree.put(name, shard);
      index.append(i == 0 ? "" : ", ").append("\"w").append(i).append("\": \"").append(name).append('"');
    }
    tree.put("model.safetensors.index.json", index.append("}}").toString().getBytes());
    tree.put("config.json", Files.readAllBytes(Path.of("src/test/resources/tiny-models/llama/config.json")));
    tree.put("tokenizer.json", Files.readAllBytes(Path.of("src/test/resources/tiny-models/llama/tokenizer.json")));
    long bytes = tree.values().stream().mapToLong(b -> b.length).sum();
    StringBuilder rows = new StringBuilder();

    try (LocalHub hub = new LocalHub(Files.createDirectories(work.resolve("hub")))) {
      hub.addToken("hf_bench", true);
      hub.createRepo("bench/model", false);
      hub.commitDirectly("bench/model", "upload", tree);
      StorageUri uri = StorageUri.parse("hf://bench/model", "bench");
      for (int streams : new int[] {1, 8}) {
        rows.append(row("Hub (LocalHub, LFS redirects)", streams, bytes, work, () -> new HubSource(uri,
            Credentials.of("hf", Map.of("token", "hf_bench")), "spec.model.credentialsSecret", hub.endpoint())));
      }
    }

    try (S3TestServer s3server = S3TestServer.start("bench", "bench-secret")) {
      S3Client s3 = s3server.admin();
      s3.createBucket(b -> b.bucket("models"));
      for (Map.Entry<String, byte[]> e : tree.entrySet()) {
        s3.putObject(b -> b.bucket("models").key("bench/" + e.getKey()), RequestBody.fromBytes(e.getValue()));
      }
      tree.clear();
      Credentials credentials = Credentials.of("s3", s3server.secretKeys());
      StorageUri uri = StorageUri.parse("s3://models/bench", "bench");
      for (int streams : new int[] {1, 8}) {
        rows.append(row("S3 (s3proxy, in-memory store)", streams, bytes, work, () -> new S3Source(uri, credentials)));
      }
    }
    String table = String.format(Locale.ROOT, """
        Command: `./mvnw -q -pl trainer-image test-compile exec:exec@fetch-benchmark`  \s
        Machine: %s  \s
        Date: %s

        A model-shaped tree of %s (%d safetensors shards of 256 MiB, index, config, tokenizer) fetched into an
        empty cache on the local disk, every file verified with SHA-256 as it arrives, server and client in one JVM on
        loopback (they share the cores).

        | source | streams | time | throughput |
        |---|---:|---:|---:|
        %s""", TrainerBenchmark.machine(), LocalDate.now(), human(bytes), SHARDS, rows);
    System.out.println(table);
    write(table);
    AtomicDirectory.delete(work);
  }

  interface SourceFactory {
    Source create() throws IOException;
  }

  static String row(String name, int streams, long bytes, Path work, SourceFactory factory) throws IOException {
    Path cache = work.resolve("cache-" + streams + "-" + Math.abs(name.hashCode()));
    Fetcher fetcher = new Fetcher(cache, streams, new PrintWriter(new StringWriter()));
    Fetcher.Result r;
    try (Source source = factory.create()) {
      r = fetcher.fetch("bench:" + name, source, l -> ModelFiles.select(l, "bench"));
    }
    if (r.bytes() != bytes) {
      throw new IllegalStateException(name + ": fetched " + r.bytes() + " bytes, expected " + bytes);
    }
    AtomicDirectory.delete(cache);
    return String.format(Locale.ROOT, "| %s | %d | %.1f s | %.0f MiB/s |%n", name, streams, r.seconds(),
        bytes / r.seconds() / (1 << 20));
  }

  static String human(long bytes) {
    return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
  }

  static void write(String table) throws IOException {
    TrainerBenchmark.writeSection(BEGIN, END, "Fetch: download throughput",
        "Written by `trainer-image/src/test/java/io/pose/trainer/bench/FetchBenchmark.java`.", table);
  }
}
