package io.pose.trainer.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.UUID;

/**
 * Writes a directory all at once: its content is produced in a staging directory next to the target, forced to
 * disk, then renamed into place. A reader sees the old directory or the new one, never half of one; a crash leaves
 * at most a staging directory (named .{target}.staging-*) that the next write removes.
 */
public final class AtomicDirectory {
  private AtomicDirectory() {}

  /** Produces the content of a directory. */
  @FunctionalInterface
  public interface Content {
    void writeInto(Path directory) throws IOException;
  }

  /**
   * An fsync of an open file or directory, before a rename makes it count: a seam through which tests see what is
   * forced and when (whether the data reached the disk shows only after a power loss).
   */
  @FunctionalInterface
  interface Fsync {
    void force(FileChannel channel, Path path) throws IOException;
  }

  /** How files and directories are forced (tests observe it; production only ever uses this default). */
  static volatile Fsync fsync = (channel, path) -> channel.force(true);

  public static void write(Path target, Content content) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path parent = absolute.getParent();
    Files.createDirectories(parent);
    String name = absolute.getFileName().toString();
    removeLeftovers(parent, name);
    Path staging = parent.resolve("." + name + ".staging-" + UUID.randomUUID());
    Files.createDirectory(staging);
    try {
      content.writeInto(staging);
      commit(staging, absolute);
    } finally {
      if (Files.exists(staging)) {
        deleteTree(staging);
      }
    }
  }

  /**
   * The staging directory of a target that several writers fill (the ranks of a run, on a shared file system): a
   * fixed name, so that every writer finds it.
   */
  public static Path sharedStaging(Path target) {
    Path absolute = target.toAbsolutePath();
    return absolute.getParent().resolve("." + absolute.getFileName() + ".staging-shared");
  }

  /**
   * Removes what earlier attempts left and creates the shared staging directory: one writer calls it before any
   * writes into {@link #sharedStaging}.
   */
  public static Path prepareShared(Path target) throws IOException {
    Path absolute = target.toAbsolutePath();
    Files.createDirectories(absolute.getParent());
    removeLeftovers(absolute.getParent(), absolute.getFileName().toString());
    Path staging = sharedStaging(absolute);
    Files.createDirectory(staging);
    return staging;
  }

  /**
   * Forces the shared staging directory to disk and renames it into place (replacing the target if it exists): one
   * writer calls it once every writer has finished.
   */
  public static void commitShared(Path target) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path staging = sharedStaging(absolute);
    if (!Files.isDirectory(staging)) {
      throw new IOException(staging + ": the shared staging directory is gone (another writer removed it?)");
    }
    commit(staging, absolute);
  }

  private static void commit(Path staging, Path absolute) throws IOException {
    Path parent = absolute.getParent();
    forceTree(staging);
    if (Files.exists(absolute)) {
      Path old = parent.resolve("." + absolute.getFileName() + ".old-" + UUID.randomUUID());
      Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
      Files.move(staging, absolute, StandardCopyOption.ATOMIC_MOVE);
      deleteTree(old);
    } else {
      Files.move(staging, absolute, StandardCopyOption.ATOMIC_MOVE);
    }
    force(parent);
  }

  /**
   * Removes what earlier attempts left: staging directories, and older targets renamed away. A crash between the two
   * renames of a replacement leaves the target missing and its previous content renamed away: that is put back
   * first, so nothing complete is ever lost.
   */
  private static void removeLeftovers(Path parent, String name) throws IOException {
    Path target = parent.resolve(name);
    if (!Files.exists(target)) {
      try (var listing = Files.list(parent)) {
        Path old = listing.filter(p -> p.getFileName().toString().startsWith("." + name + ".old-")).findFirst()
            .orElse(null);
        if (old != null) {
          Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
        }
      }
    }
    removeLeftoversOf(parent, name);
  }

  private static void removeLeftoversOf(Path parent, String name) throws IOException {
    try (var listing = Files.list(parent)) {
      for (Path p : (Iterable<Path>) listing::iterator) {
        String n = p.getFileName().toString();
        if (n.startsWith("." + name + ".staging-") || n.startsWith("." + name + ".old-")
            || n.startsWith("." + name + ".deleting-")) {
          deleteTree(p);
        }
      }
    }
  }

  private static void forceTree(Path root) throws IOException {
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        // opened for reading: fsync needs no write access, and copied files may be read-only
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ)) {
          fsync.force(c, file);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        force(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** fsync of a directory (its entries), where the platform allows opening one. */
  private static void force(Path dir) {
    try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
      fsync.force(c, dir);
    } catch (IOException e) {
      // some file systems refuse to open directories; the renames are still atomic
    }
  }

  /** Deletes a directory written by {@link #write} (renamed away first, so no reader sees it half deleted). */
  public static void delete(Path target) throws IOException {
    Path absolute = target.toAbsolutePath();
    if (!Files.exists(absolute)) {
      return;
    }
    // not ".old-": a directory being deleted is never put back as a replaced one would be
    Path old = absolute.getParent().resolve("." + absolute.getFileName() + ".deleting-" + UUID.randomUUID());
    Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
    deleteTree(old);
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        Files.delete(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
