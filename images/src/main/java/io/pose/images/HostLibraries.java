package io.pose.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Shared libraries of the machine that builds an image, found as its dynamic loader finds them: for a Java runtime
 * made by jlink from a distribution's JDK (Debian's links the system's freetype, harfbuzz, lcms, libjpeg), the
 * libraries it needs beyond what the base image has, so they can travel in the runtime's layer.
 */
public final class HostLibraries {

  /** The host's library directories, searched in this order (Debian/Ubuntu multiarch first). */
  static final List<Path> DIRECTORIES = LibraryCheck.DEFAULT_DIRECTORIES.stream().map(Path::of).toList();

  private HostLibraries() {}

  /** A library by SONAME in the host's directories, or null. */
  public static Path find(String soname) {
    for (Path dir : DIRECTORIES) {
      Path p = dir.resolve(soname);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    return null;
  }

  /**
   * The transitive closure of what {@code roots} need, minus {@code provided}, as SONAME to the host file (symlinks
   * resolved).
   *
   * @param roots ELF files whose needs are followed
   * @param also SONAMEs loaded with dlopen (so in no DT_NEEDED) that belong to the closure too
   * @param provided SONAMEs the target already has
   * @throws IOException naming the library and what needs it, when the host lacks one
   */
  public static Map<String, Path> closure(List<Path> roots, List<String> also, Set<String> provided)
      throws IOException {
    Map<String, Path> out = new LinkedHashMap<>();
    Deque<Path> work = new ArrayDeque<>(roots);
    Map<String, String> neededBy = new LinkedHashMap<>();
    for (String soname : also) {
      neededBy.put(soname, "dlopen");
      Path p = find(soname);
      if (p == null) {
        throw missing(soname, "dlopen");
      }
      out.put(soname, p.toRealPath());
      work.add(p.toRealPath());
    }
    while (!work.isEmpty()) {
      Path lib = work.poll();
      Elf elf;
      try (Elf.Input in = Elf.of(lib.toString(), () -> Files.newInputStream(lib))) {
        elf = Elf.read(lib.toString(), in);
      }
      for (String needed : elf.needed()) {
        if (provided.contains(needed) || out.containsKey(needed)) {
          continue;
        }
        Path p = find(needed);
        if (p == null) {
          throw missing(needed, lib.toString());
        }
        out.put(needed, p.toRealPath());
        work.add(p.toRealPath());
      }
    }
    return out;
  }

  private static IOException missing(String soname, String by) {
    return new IOException(soname + " (needed by " + by + ") is not installed on this machine, in none of "
        + DIRECTORIES + ": the Java runtime jlink makes from this JDK needs it (Debian/Ubuntu: apt-get install "
        + "libfreetype6 libharfbuzz0b liblcms2-2 libjpeg62-turbo fontconfig fonts-dejavu-core)");
  }
}
