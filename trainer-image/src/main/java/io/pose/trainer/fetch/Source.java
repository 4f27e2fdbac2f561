package io.pose.trainer.fetch;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the Fetch stage reads a model or a dataset from (the download direction of the storage layer that publish
 * targets write to: same schemes, same credentials). A source resolves what it holds to a revision and lists its
 * files; the Fetcher decides which to bring, in parallel, into a cache keyed by source and revision.
 */
public interface Source extends AutoCloseable {

  /**
   * Resolves the revision and lists the files.
   *
   * @throws SourceNotFoundException when the repository, bucket, prefix, path or revision does not exist
   * @throws io.pose.trainer.storage.CredentialsException when credentials are missing (a gated or private
   *     repository) or rejected; messages name the Secret, never a value
   * @throws IOException for what a retry may cure (network, server errors after retries)
   */
  Listing list() throws IOException;

  /**
   * Brings one listed file into {@code partial}. Bytes already in {@code partial} (an interrupted earlier try) are
   * kept and the rest is requested from where they end (HTTP ranges); once complete, the whole file's size and,
   * where the listing has them, SHA-256 or other checksums are checked. On a mismatch the partial file is deleted
   * and {@link ChecksumMismatchException} thrown; on any other failure the partial file stays for the next try.
   * The caller renames a completed file into place, so a file under its final name is always complete.
   */
  void download(Entry entry, Path partial) throws IOException;

  /** Releases the source's connections; a no-op for most sources. */
  @Override
  default void close() throws IOException {}

  /** What the source holds at a resolved revision. */
  record Listing(String revision, List<Entry> entries) {}

  /**
   * One file.
   *
   * @param path relative to the source's root, '/'-separated
   * @param size in bytes
   * @param sha256 lower-case hex, or null where the source does not know it (then size and any etag are checked)
   * @param etag the source's own version tag of the file (S3 ETag, git blob id), or null
   */
  record Entry(String path, long size, String sha256, String etag) {}
}
