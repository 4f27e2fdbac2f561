package io.pose.trainer.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Fetcher's guarantees with a source that fails: a file under its final name is always complete, a fetch cut
 * off half-way resumes (complete files kept, the partial one continued), a checksum mismatch never reaches the
 * final name, and the manifest appears only when everything is there.
 */
class FetcherTest {

  @TempDir
  Path tmp;

  Path tree() throws IOException {
    Path src = Files.createDirectories(tmp.resolve("src"));
    Random r = new Random(1);
    for (int i = 0; i < 4; i++) {
      byte[] b = new byte[300_000 + i * 1000];
      r.nextBytes(b);
      Files.write(src.resolve("shard-" + i + ".safetensors"), b);
    }
    return src;
  }

  /** A source that writes half of the third file it serves and then fails, once. */
  static final class Flaky implements Source {
    final Source inner;
    final AtomicInteger served = new AtomicInteger();
    volatile boolean failed;

    Flaky(Source inner) {
      this.inner = inner;
    }

    @Override
    public Listing list() throws IOException {
      return inner.list();
    }

    @Override
    public void download(Entry entry, Path partial) throws IOException {
      if (!failed && served.incrementAndGet() == 3) {
        failed = true;
        Path whole = partial.resolveSibling("whole.tmp");
        inner.download(entry, whole);
        byte[] half = java.util.Arrays.copyOf(Files.readAllBytes(whole), (int) (entry.size() / 2));
        Files.delete(whole);
        Files.write(partial, half);
        throw new IOException("connection reset");
      }
      inner.download(entry, partial);
    }
  }

  @Test
  void anInterruptedFetchResumesAndNeverShowsAPartialFileAsComplete() throws IOException {
    Path src = tree();
    StringWriter log = new StringWriter();
    Fetcher fetcher = new Fetcher(tmp.resolve("cache"), 1, new PrintWriter(log, true));
    Flaky flaky = new Flaky(new DirectorySource(src, "file://" + src));
    assertThatThrownBy(() -> fetcher.fetch("file://" + src, flaky, Source.Listing::entries))
        .hasMessageContaining("connection reset");
    Path entry;
    try (var dirs = Files.list(tmp.resolve("cache"))) {
      Path bySource = dirs.findFirst().orElseThrow();
      try (var revisions = Files.list(bySource)) {
        entry = revisions.findFirst().orElseThrow();
      }
    }
    assertThat(entry.resolve(FetchManifest.FILE_NAME)).doesNotExist();
    // two complete files under their names, the third only as a partial file
    assertThat(entry.resolve("shard-0.safetensors")).hasSameBinaryContentAs(src.resolve("shard-0.safetensors"));
    assertThat(entry.resolve("shard-1.safetensors")).hasSameBinaryContentAs(src.resolve("shard-1.safetensors"));
    assertThat(entry.resolve("shard-2.safetensors")).doesNotExist();
    assertThat(entry.resolve(".partial/shard-2.safetensors.part")).exists();
    // the fourth download may have started before the failure stopped the fetch: whatever of it is there, complete
    // under its name or partial, is kept and not fetched again
    Path fourth = entry.resolve("shard-3.safetensors");
    long fourthHad = Files.exists(fourth) ? Files.size(fourth)
        : Files.exists(entry.resolve(".partial/shard-3.safetensors.part"))
            ? Files.size(entry.resolve(".partial/shard-3.safetensors.part")) : 0;
    if (Files.exists(fourth)) {
      assertThat(fourth).hasSameBinaryContentAs(src.resolve("shard-3.safetensors"));
    }

    Fetcher.Result again = fetcher.fetch("file://" + src, flaky, Source.Listing::entries);
    long total = 0;
    for (int i = 0; i < 4; i++) {
      Path f = src.resolve("shard-" + i + ".safetensors");
      total += Files.size(f);
      assertThat(again.directory().resolve(f.getFileName().toString())).hasSameBinaryContentAs(f);
    }
    // the resumed fetch brought the second half of shard 2 and shard 3 (unless it had it), not the files it had
    long shard2 = Files.size(src.resolve("shard-2.safetensors"));
    long expected = shard2 - shard2 / 2 + Files.size(src.resolve("shard-3.safetensors")) - fourthHad;
    assertThat(again.bytes()).isEqualTo(expected).isLessThan(total);
    assertThat(again.directory().resolve(".partial")).doesNotExist();
    assertThat(again.manifest().files()).hasSize(4);

    Fetcher.Result cached = fetcher.fetch("file://" + src, flaky, Source.Listing::entries);
    assertThat(cached.cached()).isTrue();
    assertThat(cached.bytes()).isZero();
  }

  @Test
  void aChecksumMismatchNeverReachesTheFinalName() throws IOException {
    Path src = tree();
    Source wrong = new Source() {
      final DirectorySource inner = new DirectorySource(src, "file://" + src);

      @Override
      public Listing list() throws IOException {
        return inner.list();
      }

      @Override
      public void download(Entry entry, Path partial) throws IOException {
        inner.download(entry, partial);
        if (entry.path().equals("shard-1.safetensors")) {
          Files.delete(partial);
          throw new ChecksumMismatchException(entry.path() + ": SHA-256 differs");
        }
      }
    };
    Fetcher fetcher = new Fetcher(tmp.resolve("cache"), 4, new PrintWriter(new StringWriter()));
    assertThatThrownBy(() -> fetcher.fetch("file://" + src, wrong, Source.Listing::entries))
        .isInstanceOf(ChecksumMismatchException.class);
    try (var walk = Files.walk(tmp.resolve("cache"))) {
      List<String> names = walk.map(p -> p.getFileName().toString()).toList();
      assertThat(names).doesNotContain("shard-1.safetensors", "shard-1.safetensors.part", FetchManifest.FILE_NAME);
    }
  }
}
