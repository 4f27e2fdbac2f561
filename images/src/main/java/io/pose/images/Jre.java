package io.pose.images;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.spi.ToolProvider;

/**
 * A Java runtime made by jlink from the JDK that runs the build, for images whose base has no Java (the CUDA base):
 * the platform modules the trainer and the operator use, without debug symbols, man pages or headers. Kept in the
 * cache under the JDK's version and the module list, so it is made once.
 */
public final class Jre {

  /** Where images carry Java (the Eclipse Temurin images' path, so either base serves the same entrypoint). */
  public static final String JAVA_HOME = "/opt/java/openjdk";

  /**
   * Java SE and the JDK modules the class path needs: Unsafe (Netty, JavaCPP, Jackson's afterburner paths), zip file
   * systems, the HTTP server of the metrics endpoint, DNS names, EC and PKCS#11 crypto for TLS, JMX for Micrometer.
   */
  public static final List<String> MODULES = List.of("java.se", "jdk.unsupported", "jdk.zipfs", "jdk.httpserver",
      "jdk.naming.dns", "jdk.crypto.ec", "jdk.crypto.cryptoki", "jdk.management", "jdk.net", "jdk.localedata");

  /** The JDK's libraries for a display, sound or a splash screen: never loaded by a headless server, not shipped. */
  static final Set<String> DESKTOP_ONLY = Set.of("libawt_xawt.so", "libsplashscreen.so", "libjawt.so", "libjsound.so");

  /** Fonts for charts (XChart draws text): fontconfig's configuration and the DejaVu family. */
  static final List<String> FONTS = List.of("/etc/fonts", "/usr/share/fonts/truetype/dejavu");

  private Jre() {}

  /**
   * The runtime as a layer at {@link #JAVA_HOME} for a base without Java: its files minus {@link #DESKTOP_ONLY}, the
   * host libraries it links beyond {@code provided} (into its lib/, which goes on LD_LIBRARY_PATH for their own
   * needs), fontconfig (Java loads it with dlopen) and {@link #FONTS}.
   */
  static ImagePlan.Layer layer(Path jre, Set<String> provided) throws IOException {
    List<ImagePlan.Entry> entries = new ArrayList<>();
    List<Path> roots = new ArrayList<>();
    Set<String> own = new HashSet<>(provided);
    for (ImagePlan.Entry e : Images.tree(jre, JAVA_HOME)) {
      String file = e.path().substring(e.path().lastIndexOf('/') + 1);
      if (DESKTOP_ONLY.contains(file)) {
        continue;
      }
      entries.add(e);
      if (e.source() instanceof ImagePlan.FileSource f && (file.endsWith(".so") || e.path().endsWith("/bin/java"))) {
        roots.add(f.file());
        own.add(file);
      }
    }
    Map<String, Path> libs = HostLibraries.closure(roots, List.of("libfontconfig.so.1"), own);
    for (Map.Entry<String, Path> lib : libs.entrySet()) {
      entries.add(new ImagePlan.Entry(new ImagePlan.FileSource(lib.getValue()), JAVA_HOME + "/lib/" + lib.getKey(),
          0755, Images.ROOT));
    }
    for (String dir : FONTS) {
      Path d = Path.of(dir);
      if (!Files.isDirectory(d)) {
        throw new IOException(dir + " is missing on this machine: the image's Java draws charts with fontconfig and "
            + "DejaVu fonts (Debian/Ubuntu: apt-get install fontconfig fonts-dejavu-core)");
      }
      for (Path p : Sorted.walk(d)) {
        String path = dir + "/" + d.relativize(p);
        if (Files.isDirectory(p)) {
          entries.add(new ImagePlan.Entry(new ImagePlan.Directory(), path, 0755, Images.ROOT));
        } else if (Files.isRegularFile(p)) { // a symlink to a file counts as the file (conf.d's links)
          entries.add(new ImagePlan.Entry(new ImagePlan.FileSource(p.toRealPath()), path, 0644, Images.ROOT));
        }
      }
    }
    return new ImagePlan.Layer("jre " + Runtime.version().feature(), List.copyOf(entries));
  }

  /** The runtime for {@link #MODULES} from the JDK at {@code javaHome}, made once into {@code cache}. */
  public static Path jlink(Path javaHome, Path cache) throws IOException {
    Path jmods = javaHome.resolve("jmods");
    if (!Files.isDirectory(jmods)) {
      throw new IOException("jlink needs the JDK's jmods, and " + javaHome + " has none (" + jmods + "): build with a "
          + "full JDK 17+ (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; it ships jmods/), or give the "
          + "image a base that has Java at " + JAVA_HOME);
    }
    String version = Runtime.version().toString();
    Path out = cache.resolve("jre").resolve(version + "-" + hash(String.join(",", MODULES)));
    if (Files.isRegularFile(out.resolve("release"))) {
      return out;
    }
    ToolProvider jlink = ToolProvider.findFirst("jlink").orElseThrow(() -> new IOException(
        "this Java runtime has no jlink tool: build the images with a JDK, not a JRE"));
    Files.createDirectories(out.getParent());
    Path staging = Files.createTempDirectory(out.getParent(), "jlink-");
    Files.delete(staging); // jlink creates its output directory itself
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8);
    int code = jlink.run(ps, ps, "--module-path", jmods.toString(), "--add-modules", String.join(",", MODULES),
        "--strip-debug", "--no-man-pages", "--no-header-files", "--compress=2", "--output", staging.toString());
    if (code != 0) {
      Sorted.deleteTree(staging);
      throw new IOException("jlink exited with " + code + ": " + log.toString(StandardCharsets.UTF_8).strip());
    }
    try {
      Files.move(staging, out, StandardCopyOption.ATOMIC_MOVE);
    } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
      Sorted.deleteTree(staging); // another build made it first
    }
    return out;
  }

  static String hash(String text) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
