package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wheels of the cuda image: downloaded from a mirror of files.pythonhosted.org into the cache once, checked
 * against their pins, never left half-written under their name; a supplied directory is checked the same way.
 */
class WheelsTest {
  static final byte[] WHEEL = "not really a wheel, but bytes with a digest".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path tmp;
  HttpServer server;
  final AtomicInteger requests = new AtomicInteger();
  byte[] served = WHEEL;

  @BeforeEach
  void serve() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/packages/", exchange -> {
      requests.incrementAndGet();
      exchange.sendResponseHeaders(200, served.length);
      exchange.getResponseBody().write(served);
      exchange.close();
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  Wheels.Lock lock(String sha256) {
    return new Wheels.Lock("2.7.1", "cp312", "manylinux x86_64", List.of(new Wheels.Wheel("nvidia-nccl-cu12",
        "2.26.2", "nvidia_nccl_cu12-2.26.2-py3-none-manylinux2014_x86_64.whl",
        Wheels.PYPI_FILES + "/packages/ab/cd/nvidia_nccl_cu12-2.26.2-py3-none-manylinux2014_x86_64.whl", sha256,
        WHEEL.length)));
  }

  String mirror() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void aWheelIsDownloadedOnceFromTheMirrorAndThenTakenFromTheCache() throws Exception {
    Wheels.Lock lock = lock(sha256(WHEEL));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    List<Path> first = Wheels.resolve(lock, null, tmp.resolve("cache"), mirror(), new PrintStream(log, true));
    assertThat(first).singleElement().satisfies(p -> assertThat(Files.readAllBytes(p)).isEqualTo(WHEEL));
    assertThat(log.toString()).contains("downloading nvidia_nccl_cu12-2.26.2").contains(mirror() + "/packages/ab/cd/");
    List<Path> again = Wheels.resolve(lock, null, tmp.resolve("cache"), mirror(), new PrintStream(log, true));
    assertThat(again).isEqualTo(first);
    assertThat(requests).hasValue(1);
  }

  @Test
  void aWheelThatIsNotThePinnedOneIsRefusedAndLeavesNothingBehind() throws Exception {
    served = "same length, other bytes!! but bytes with a digest".substring(0, WHEEL.length)
        .getBytes(StandardCharsets.UTF_8);
    Wheels.Lock lock = lock(sha256(WHEEL));
    assertThatThrownBy(() -> Wheels.resolve(lock, null, tmp.resolve("cache"), mirror(), System.out))
        .isInstanceOf(IOException.class).hasMessageContaining("SHA-256 " + sha256(served))
        .hasMessageContaining("pins " + WHEEL.length + " bytes with SHA-256 " + sha256(WHEEL))
        .hasMessageContaining(Wheels.LOCK);
    try (Stream<Path> left = Files.list(tmp.resolve("cache"))) {
      assertThat(left).as("no wheel and no .partial file").isEmpty();
    }
  }

  @Test
  void aSuppliedDirectoryMustHoldEveryPinnedWheelAsPinned() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("wheels"));
    Wheels.Lock lock = lock(sha256(WHEEL));
    assertThatThrownBy(() -> Wheels.resolve(lock, dir, tmp.resolve("cache"), null, System.out))
        .hasMessageContaining("--wheels " + dir + " has no nvidia_nccl_cu12-2.26.2-py3-none-manylinux2014_x86_64.whl")
        .hasMessageContaining("pip download");
    Files.write(dir.resolve(lock.wheels().get(0).filename()), "tampered".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> Wheels.resolve(lock, dir, tmp.resolve("cache"), null, System.out))
        .hasMessageContaining("but " + Wheels.LOCK + " pins " + sha256(WHEEL));
    Files.write(dir.resolve(lock.wheels().get(0).filename()), WHEEL);
    assertThat(Wheels.resolve(lock, dir, tmp.resolve("cache"), null, System.out))
        .containsExactly(dir.resolve(lock.wheels().get(0).filename()));
    assertThat(requests).hasValue(0);
  }

  @Test
  void theCommittedLockPinsTorchAndTheNvidiaWheelsItRequires() {
    Wheels.Lock lock = Wheels.lock();
    assertThat(lock.torch()).isEqualTo("2.7.1");
    assertThat(lock.wheels().get(0).filename()).startsWith("torch-2.7.1-cp312-cp312-manylinux");
    assertThat(lock.wheels()).extracting(Wheels.Wheel::project).contains("nvidia-nccl-cu12", "nvidia-cudnn-cu12",
        "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12", "nvidia-cusparselt-cu12").doesNotContain("triton");
    assertThat(lock.wheels()).allSatisfy(w -> {
      assertThat(w.sha256()).matches("[0-9a-f]{64}");
      assertThat(w.url()).startsWith(Wheels.PYPI_FILES + "/packages/").endsWith("/" + w.filename());
      assertThat(w.size()).isPositive();
    });
  }
}
