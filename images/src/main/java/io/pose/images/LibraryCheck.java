package io.pose.images;

import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.FileSource;
import io.pose.images.ImagePlan.ZipMember;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Resolves every DT_NEEDED of an image's shared libraries the way glibc's loader will inside the container: the
 * library's DT_RPATH (only without DT_RUNPATH), then LD_LIBRARY_PATH from the image's environment, then its
 * DT_RUNPATH (with {@code $ORIGIN} its own directory), then the default directories. A name resolves when a file of
 * the plan is there, or when the base image or the container runtime provides it ({@link ImagePlan#baseLibraries});
 * anything else is a library the process would fail to load, reported with what was searched.
 *
 * <p>Libraries loaded from inside jars at run time (JavaCPP's JNI wrappers, unpacked to a cache directory) are
 * checked too, as if unpacked into {@code extraDirectory}, their siblings beside them.
 */
public final class LibraryCheck {

  /** glibc's trusted directories on Debian/Ubuntu x86_64 (the multiarch ones first, as ld.so.cache lists them). */
  static final List<String> DEFAULT_DIRECTORIES = List.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
      "/lib64", "/usr/lib64", "/lib", "/usr/lib");

  /** One library and how its needs were resolved. */
  public record Library(String path, String source, Elf elf, Map<String, String> resolved, List<String> missing) {}

  private LibraryCheck() {}

  /**
   * Checks every ELF shared library of the plan whose path the filter accepts, plus the given libraries from jars.
   *
   * @param extra libraries loaded at run time from jars: their path once unpacked, mapped to their source
   */
  public static List<Library> check(ImagePlan plan, Predicate<String> which, Map<String, ZipMember> extra)
      throws IOException {
    Map<String, Entry> files = new LinkedHashMap<>(plan.files());
    extra.forEach((path, member) -> files.put(path, new Entry(member, path, 0644, "0:0")));
    List<String> ldLibraryPath = split(plan.environment().get("LD_LIBRARY_PATH"));
    List<Library> out = new ArrayList<>();
    for (Map.Entry<String, Entry> f : files.entrySet()) {
      String path = f.getKey();
      if (!(which.test(path) || extra.containsKey(path)) || !isSharedObjectName(path)) {
        continue;
      }
      Elf elf = read(f.getValue());
      if (elf == null) {
        continue; // a linker script or data file named like a library
      }
      String origin = path.substring(0, path.lastIndexOf('/'));
      List<String> dirs = new ArrayList<>();
      if (elf.runpath().isEmpty()) {
        dirs.addAll(expand(elf.rpath(), origin));
      }
      dirs.addAll(ldLibraryPath);
      dirs.addAll(expand(elf.runpath(), origin));
      dirs.addAll(DEFAULT_DIRECTORIES);
      Map<String, String> resolved = new LinkedHashMap<>();
      List<String> missing = new ArrayList<>();
      for (String needed : elf.needed()) {
        String where = null;
        for (String dir : dirs) {
          String candidate = normalize(dir + "/" + needed);
          if (files.containsKey(candidate)) {
            where = candidate;
            break;
          }
        }
        if (where == null && needed.equals("libjvm.so") && files.containsKey(Jre.JAVA_HOME + "/lib/server/libjvm.so")) {
          where = Jre.JAVA_HOME + "/lib/server/libjvm.so"; // the java launcher loads it, by path, before the others
        }
        if (where == null && plan.baseLibraries().contains(needed)) {
          where = "(base image)";
        }
        if (where == null) {
          missing.add(needed);
        } else {
          resolved.put(needed, where);
        }
      }
      out.add(new Library(path, f.getValue().source().describe(), elf, resolved, missing));
    }
    return out;
  }

  /** The problems of a check, one line each: which library needs what, and where it was looked for. */
  public static List<String> problems(List<Library> libraries, ImagePlan plan) {
    List<String> out = new ArrayList<>();
    for (Library l : libraries) {
      for (String m : l.missing()) {
        out.add(l.path() + " (from " + l.source() + ") needs " + m + ", which is in none of RPATH " + l.elf().rpath()
            + ", LD_LIBRARY_PATH " + split(plan.environment().get("LD_LIBRARY_PATH")) + ", RUNPATH "
            + l.elf().runpath() + " or the default directories, nor provided by the base image");
      }
    }
    return out;
  }

  static boolean isSharedObjectName(String path) {
    String name = path.substring(path.lastIndexOf('/') + 1);
    return name.endsWith(".so") || name.contains(".so.");
  }

  private static Elf read(Entry entry) throws IOException {
    String name = entry.source().describe();
    Elf.Opener opener;
    if (entry.source() instanceof FileSource f) {
      opener = () -> Files.newInputStream(f.file());
    } else if (entry.source() instanceof ZipMember z) {
      opener = z::open;
    } else {
      return null;
    }
    try (InputStream in = opener.open()) {
      if (!Elf.isElf(in.readNBytes(4))) {
        return null;
      }
    }
    try (Elf.Input input = Elf.of(name, opener)) {
      return Elf.read(name, input);
    }
  }

  private static List<String> expand(List<String> dirs, String origin) {
    List<String> out = new ArrayList<>();
    for (String d : dirs) {
      out.add(d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin));
    }
    return out;
  }

  static String normalize(String path) {
    List<String> parts = new ArrayList<>();
    for (String p : path.split("/")) {
      if (p.isEmpty() || p.equals(".")) {
        continue;
      }
      if (p.equals("..")) {
        if (!parts.isEmpty()) {
          parts.remove(parts.size() - 1);
        }
      } else {
        parts.add(p);
      }
    }
    return "/" + String.join("/", parts);
  }

  private static List<String> split(String value) {
    List<String> out = new ArrayList<>();
    if (value != null) {
      for (String p : value.split(":")) {
        if (!p.isEmpty()) {
          out.add(p);
        }
      }
    }
    return out;
  }

  /** The SONAMEs glibc itself provides in every glibc base image (Debian, Ubuntu, distroless/cc, UBI). */
  public static final Set<String> GLIBC = Set.of("libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1",
      "libpthread.so.0", "ld-linux-x86-64.so.2", "libutil.so.1", "libresolv.so.2", "libanl.so.1");
}
