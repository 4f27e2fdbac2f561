package io.pose.trainer.fetch;

import io.pose.trainer.io.AtomicDirectory;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.TimeUnit;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Brings the selected files of a source into a cache keyed by source and resolved revision,
 * {@code <cache>/<digest of the source URI>/<revision>/}, with several downloads at once. Each file is written
 * under a partial name and renamed when complete and verified; the {@link FetchManifest} is written last, so a
 * cache entry with a manifest is whole. A second fetch of the same source at the same revision downloads nothing; a
 * fetch interrupted half-way resumes: complete files are kept, partial ones continue from where they stopped.
 */
public final class Fetcher {

  static final String PARTIAL_DIR = ".partial";

  private final Path cacheRoot;
  private final int parallel;
  private final PrintWriter log;

  /**
   * @param cacheRoot the cache (in the workspace, so that a restarted Fetch pod finds it)
   * @param parallel downloads at once
   */
  public Fetcher(Path cacheRoot, int parallel, PrintWriter log) {
    if (parallel < 1) {
      throw new IllegalArgumentException("parallel downloads must be at least 1, not " + parallel);
    }
    this.cacheRoot = cacheRoot.toAbsolutePath().normalize();
    this.parallel = parallel;
    this.log = log;
  }

  /**
   * What a fetch brought.
   *
   * @param directory the cache entry (complete, with its manifest)
   * @param manifest what it holds
   * @param cached whether it was complete already (nothing downloaded)
   * @param bytes bytes downloaded by this fetch
   */
  public record Result(Path directory, FetchManifest manifest, boolean cached, long bytes, double seconds) {}

  /** Chooses the files to fetch from a listing (and refuses listings that lack what is needed). */
  @FunctionalInterface
  public interface Selection {
    List<Source.Entry> select(Source.Listing listing) throws IOException;
  }

  public Result fetch(String sourceUri, Source source, Selection selection) throws IOException {
    long start = System.nanoTime();
    Source.Listing listing = source.list();
    List<Source.Entry> files = selection.select(listing);
    Path entry = cacheRoot.resolve(digest(sourceUri)).resolve(safe(listing.revision()));
    var existing = FetchManifest.read(entry).filter(m -> m.source().equals(sourceUri)
        && m.revision().equals(listing.revision()) && complete(entry, m, files));
    if (existing.isPresent()) {
      log.printf(Locale.ROOT, "%s @ %s: in the cache (%s), nothing to download%n", sourceUri, listing.revision(), entry);
      return new Result(entry, existing.get(), true, 0, (System.nanoTime() - start) / 1e9);
    }
    Files.createDirectories(entry);
    Files.deleteIfExists(entry.resolve(FetchManifest.FILE_NAME));
    long total = files.stream().mapToLong(Source.Entry::size).sum();
    log.printf(Locale.ROOT, "%s @ %s: %d files, %s, %d at a time%n", sourceUri, listing.revision(), files.size(),
        human(total), parallel);
    AtomicLong bytes = new AtomicLong();
    List<FetchManifest.File> fetched = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, Math.max(1, files.size())), r -> {
      Thread t = new Thread(r, "fetch");
      t.setDaemon(true);
      return t;
    });
    boolean complete = false;
    try {
      // completion order: the first failure stops the fetch at once, not after the files before it
      CompletionService<FetchManifest.File> done = new ExecutorCompletionService<>(pool);
      for (Source.Entry f : files) {
        done.submit(() -> one(source, f, entry, bytes));
      }
      for (int i = 0; i < files.size(); i++) {
        try {
          fetched.add(done.take().get());
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof IOException io) {
            throw io;
          }
          if (cause instanceof RuntimeException re) {
            throw re;
          }
          throw new IOException(cause);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while fetching " + sourceUri, e);
        }
      }
      complete = true;
    } finally {
      pool.shutdownNow();
      try {
        // the source is closed after this returns: no download may still be using it
        pool.awaitTermination(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (!complete) {
        removeEmptyDirectories(entry.resolve(PARTIAL_DIR));
      }
    }
    fetched.sort(java.util.Comparator.comparing(FetchManifest.File::path));
    force(entry);
    AtomicDirectory.delete(entry.resolve(PARTIAL_DIR));
    FetchManifest manifest = new FetchManifest(sourceUri, listing.revision(), Instant.now().toString(), fetched);
    manifest.write(entry);
    force(entry);
    prune(entry);
    double seconds = (System.nanoTime() - start) / 1e9;
    log.printf(Locale.ROOT, "%s: %s in %.1f s (%s/s)%n", sourceUri, human(bytes.get()), seconds,
        human((long) (bytes.get() / Math.max(seconds, 1e-9))));
    return new Result(entry, manifest, false, bytes.get(), seconds);
  }

  private FetchManifest.File one(Source source, Source.Entry f, Path entry, AtomicLong bytes) throws IOException {
    Path target = entry.resolve(f.path()).normalize();
    if (!target.startsWith(entry)) {
      throw new IOException("refusing the path " + f.path() + ": it leaves the fetched directory");
    }
    if (Files.isRegularFile(target) && Files.size(target) == f.size()) {
      // renamed into place by an earlier, interrupted fetch: complete and verified then
      return new FetchManifest.File(f.path(), f.size(), f.sha256() != null ? f.sha256() : sha256(target), f.etag());
    }
    Path partial = entry.resolve(PARTIAL_DIR).resolve(f.path() + ".part");
    Files.createDirectories(partial.getParent());
    long before = Files.exists(partial) ? Files.size(partial) : 0;
    source.download(f, partial);
    bytes.addAndGet(Files.size(partial) - before);
    force(partial); // on disk before it has its final name: a crash never leaves a complete-looking empty file
    Files.createDirectories(target.getParent());
    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return new FetchManifest.File(f.path(), f.size(), f.sha256() != null ? f.sha256() : sha256(target), f.etag());
  }

  /**
   * After a failed fetch: the empty directories under .partial go (the partial files of resumable downloads stay,
   * for the next fetch to continue), and .partial itself when nothing is left in it.
   */
  static void removeEmptyDirectories(Path root) {
    if (!Files.isDirectory(root)) {
      return;
    }
    try (var all = Files.walk(root)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        if (Files.isDirectory(p)) {
          try (var children = Files.list(p)) {
            if (children.findAny().isEmpty()) {
              Files.delete(p);
            }
          }
        }
      }
    } catch (IOException e) {
      // best effort: what is left is never mistaken for data (it is named .partial)
    }
  }

  /** fsync of a file or a directory (a directory's entries: the renames into it). */
  static void force(Path path) throws IOException {
    try (FileChannel c = FileChannel.open(path, StandardOpenOption.READ)) {
      c.force(true);
    } catch (IOException e) {
      if (!Files.isDirectory(path)) {
        throw e;
      }
      // some file systems cannot open a directory for fsync; the files themselves were forced
    }
  }

  /** Removes the other revisions of this source from the cache: the workspace keeps its own hard links to them. */
  private void prune(Path entry) {
    try (var revisions = Files.list(entry.getParent())) {
      for (Path other : revisions.filter(p -> !p.equals(entry)).toList()) {
        AtomicDirectory.delete(other);
        log.printf(Locale.ROOT, "removed the older cache entry %s%n", other.getFileName());
      }
    } catch (IOException e) {
      log.printf(Locale.ROOT, "warning: cannot prune the cache beside %s: %s%n", entry, e.getMessage());
    }
  }

  private static boolean complete(Path entry, FetchManifest m, List<Source.Entry> wanted) {
    try {
      for (Source.Entry w : wanted) {
        Path p = entry.resolve(w.path());
        if (!Files.isRegularFile(p) || Files.size(p) != w.size()) {
          return false;
        }
      }
      return m.files().size() >= wanted.size();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A directory name for the source: a digest, so that any URI maps to one safe name. */
  static String digest(String sourceUri) {
    return HexFormat.of().formatHex(DirectorySource.sha256().digest(sourceUri.getBytes(StandardCharsets.UTF_8)))
        .substring(0, 24);
  }

  private static String safe(String revision) {
    return revision.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  public static String sha256(Path file) throws IOException {
    MessageDigest digest = DirectorySource.sha256();
    byte[] buffer = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buffer)) > 0) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  static String human(long bytes) {
    return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
        : bytes >= 1L << 20 ? String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20))
        : String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
  }
}
