package io.pose.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipFile;

/**
 * Everything an image will hold, decided before anything is built: its base, its layers in order (bottom first),
 * each file's source (a file, or a member of a jar or wheel), path, mode and owner, and the container config. The
 * plan is what the tests check (layer order, which wheel each library comes from, the library search path); {@link
 * ImageBuilder} turns it into an image without deciding anything else.
 *
 * @param name the image's name without registry or tag, e.g. {@code pose-trainer}
 * @param tag its tag, e.g. {@code 0.1.0} or {@code 0.1.0-cpu}
 * @param base the base image reference
 * @param baseLibraries the shared libraries (SONAMEs) the base image and the container runtime provide, which the
 *     library check accepts without finding them in a layer
 */
public record ImagePlan(String name, String tag, String base, List<Layer> layers, List<String> entrypoint,
    Map<String, String> environment, String user, String workingDirectory, Map<String, String> labels,
    List<Integer> ports, Set<String> baseLibraries) {

  /** One layer: a name (shown in logs and checked by tests) and its entries. */
  public record Layer(String name, List<Entry> entries) {
    public long size() {
      return entries.stream().mapToLong(e -> e.source().size()).sum();
    }
  }

  /** A file or directory in a layer: where it comes from, its absolute path in the image, mode and owner. */
  public record Entry(Source source, String path, int mode, String owner) {
    public Entry {
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException("image paths are absolute: " + path);
      }
    }
  }

  /** Where an entry's bytes come from. */
  public sealed interface Source permits FileSource, ZipMember, Directory {
    long size();

    /** What the source is, for messages: a path, or {@code archive!/member}. */
    String describe();
  }

  /** A file on this machine. */
  public record FileSource(Path file) implements Source {
    @Override
    public long size() {
      try {
        return Files.size(file);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    @Override
    public String describe() {
      return file.toString();
    }
  }

  /** A member of a zip archive (a wheel or a jar), unpacked only when the image is built. */
  public record ZipMember(Path archive, String member, long size) implements Source {
    public InputStream open() throws IOException {
      ZipFile zip = new ZipFile(archive.toFile());
      var entry = zip.getEntry(member);
      if (entry == null) {
        zip.close();
        throw new IOException(archive + " has no member " + member);
      }
      InputStream in = zip.getInputStream(entry);
      return new java.io.FilterInputStream(in) {
        @Override
        public void close() throws IOException {
          try {
            super.close();
          } finally {
            zip.close();
          }
        }
      };
    }

    @Override
    public String describe() {
      return archive.getFileName() + "!/" + member;
    }
  }

  /** An empty directory (with its own mode and owner, e.g. a home directory the image's user may write). */
  public record Directory() implements Source {
    @Override
    public long size() {
      return 0;
    }

    @Override
    public String describe() {
      return "(directory)";
    }
  }

  /** The reference this plan is pushed as under a registry prefix, e.g. {@code ghcr.io/pose-io/pose-trainer:0.1.0}. */
  public String reference(String registry) {
    return registry.replaceAll("/+$", "") + "/" + name + ":" + tag;
  }

  /** Every file entry by its path in the image (later layers win, as when the image is unpacked). */
  public Map<String, Entry> files() {
    Map<String, Entry> files = new LinkedHashMap<>();
    for (Layer layer : layers) {
      for (Entry e : layer.entries()) {
        if (!(e.source() instanceof Directory)) {
          files.put(e.path(), e);
        }
      }
    }
    return files;
  }

  /** The layer that holds a path, or null. */
  public Layer layerOf(String path) {
    Layer found = null;
    for (Layer layer : layers) {
      for (Entry e : layer.entries()) {
        if (e.path().equals(path)) {
          found = layer;
        }
      }
    }
    return found;
  }

  /** A readable summary: each layer with its file count and size. */
  public String describe() {
    StringBuilder b = new StringBuilder(name + ":" + tag + " FROM " + base + "\n");
    List<Layer> all = new ArrayList<>(layers);
    for (Layer layer : all) {
      b.append(String.format("  %-40s %6d files %10.1f MiB%n", layer.name(), layer.entries().size(),
          layer.size() / 1048576.0));
    }
    b.append("  ENTRYPOINT ").append(entrypoint).append('\n');
    b.append("  USER ").append(user).append('\n');
    environment.forEach((k, v) -> b.append("  ENV ").append(k).append('=').append(v).append('\n'));
    return b.toString();
  }
}
