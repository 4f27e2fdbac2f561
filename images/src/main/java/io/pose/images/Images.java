package io.pose.images;

import io.pose.images.ImagePlan.Directory;
import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.FileSource;
import io.pose.images.ImagePlan.Layer;
import io.pose.images.ImagePlan.ZipMember;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/** What the trainer and operator images share: user, labels, the JRE layer and the ways entries are collected. */
final class Images {
  private Images() {}

  /** The images' user and group: a fixed non-root id, as distroless's "nonroot"; the chart and the Jobs use it. */
  static final String USER = "65532:65532";
  static final String ROOT = "0:0";

  /** Build facts that go into labels: version, source revision, where the source lives. */
  record Release(String version, String revision, String source) {
    /** The image tag of this version: the Maven version without -SNAPSHOT (the chart's appVersion). */
    String tag() {
      return version.replaceFirst("-SNAPSHOT$", "");
    }
  }

  static Map<String, String> labels(Release release, String title, String description, String licenses,
      String base) {
    Map<String, String> l = new LinkedHashMap<>();
    l.put("org.opencontainers.image.title", title);
    l.put("org.opencontainers.image.description", description);
    l.put("org.opencontainers.image.source", release.source());
    l.put("org.opencontainers.image.url", release.source());
    l.put("org.opencontainers.image.revision", release.revision());
    l.put("org.opencontainers.image.version", release.version());
    l.put("org.opencontainers.image.licenses", licenses);
    l.put("org.opencontainers.image.vendor", "pose-io");
    l.put("org.opencontainers.image.base.name", base);
    return Collections.unmodifiableMap(l);
  }

  /** A directory tree as entries below {@code target}, each with its own mode, owned by root. */
  static List<Entry> tree(Path dir, String target) throws IOException {
    List<Entry> out = new ArrayList<>();
    for (Path p : Sorted.walk(dir)) {
      String path = target + "/" + dir.relativize(p).toString().replace('\\', '/');
      if (Files.isDirectory(p)) {
        out.add(new Entry(new Directory(), path, 0755, ROOT));
      } else {
        out.add(new Entry(new FileSource(p), path, mode(p), ROOT));
      }
    }
    return out;
  }

  /** The jars of a directory as entries in {@code target}, 0644, owned by root. */
  static List<Entry> jars(Path dir, String target, java.util.function.Predicate<String> keep) throws IOException {
    List<Entry> out = new ArrayList<>();
    for (Path jar : Sorted.files(dir)) {
      String name = jar.getFileName().toString();
      if (name.endsWith(".jar") && keep.test(name)) {
        out.add(new Entry(new FileSource(jar), target + "/" + name, 0644, ROOT));
      }
    }
    return out;
  }

  /**
   * The members of a zip archive that a mapper places in the image (it returns the path, or null to leave a member
   * out), as entries sorted by path; shared libraries 0755 like pip installs them, other files 0644.
   */
  static List<Entry> members(Path archive, Function<String, String> place) throws IOException {
    List<Entry> out = new ArrayList<>();
    try (ZipFile zip = new ZipFile(archive.toFile())) {
      List<? extends ZipEntry> entries = Collections.list(zip.entries());
      for (ZipEntry e : entries) {
        if (e.isDirectory()) {
          continue;
        }
        String path = place.apply(e.getName());
        if (path != null) {
          int mode = LibraryCheck.isSharedObjectName(path) ? 0755 : 0644;
          out.add(new Entry(new ZipMember(archive, e.getName(), e.getSize()), path, mode, ROOT));
        }
      }
    }
    out.sort(java.util.Comparator.comparing(Entry::path));
    return out;
  }

  /** The one jar in {@code dir} whose name starts with {@code prefix}, or a message saying what is missing. */
  static Path jar(Path dir, String prefix) throws IOException {
    List<Path> found = new ArrayList<>();
    for (Path p : Sorted.files(dir)) {
      if (p.getFileName().toString().startsWith(prefix) && p.getFileName().toString().endsWith(".jar")) {
        found.add(p);
      }
    }
    if (found.size() != 1) {
      throw new IOException(dir + " should hold exactly one " + prefix + "*.jar, and holds " + found
          + ": build it with ./mvnw package");
    }
    return found.get(0);
  }

  private static int mode(Path p) throws IOException {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
      return perms.contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644;
    } catch (UnsupportedOperationException e) {
      return 0644;
    }
  }
}
