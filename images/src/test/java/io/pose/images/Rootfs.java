package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * An image as a container runtime sees it: pulled from the registry by digest (every blob checked), its layers
 * unpacked in order into a root filesystem (OCI whiteouts honoured, modes and owners kept), and its entrypoint run
 * there with the image's environment and user, in new mount and PID namespaces with /proc and /dev mounted.
 */
final class Rootfs {

  /** How processes are isolated here: chroot as root (with the image's user), or a user namespace. */
  enum Isolation {
    CHROOT_AS_IMAGE_USER("chroot in new mount and PID namespaces, as the image's user"),
    USER_NAMESPACE("chroot in a user namespace (mapped root: the image's user cannot be taken)");

    final String description;

    Isolation(String description) {
      this.description = description;
    }
  }

  final Path dir;
  final JsonNode config;
  final String digest;

  private Rootfs(Path dir, JsonNode config, String digest) {
    this.dir = dir;
    this.config = config;
    this.digest = digest;
  }

  /** Pulls {@code repository@digest} and unpacks it into {@code dir}. */
  static Rootfs pull(LoopbackRegistry registry, String repository, String digest, Path dir) throws Exception {
    LoopbackRegistry.Manifest manifest = registry.manifest(repository, digest);
    assertThat(manifest.digest()).isEqualTo(digest);
    JsonNode json = manifest.json();
    JsonNode config = LoopbackRegistry.JSON.readTree(registry.blob(repository, json.path("config")));
    Files.createDirectories(dir);
    boolean root = isRoot();
    int i = 0;
    for (JsonNode layer : json.path("layers")) {
      byte[] gz = registry.blob(repository, layer);
      byte[] tar = new GzipCompressorInputStream(new ByteArrayInputStream(gz)).readAllBytes();
      assertThat("sha256:" + LoopbackRegistry.sha256(tar)).as("diff_id of layer " + i)
          .isEqualTo(config.path("rootfs").path("diff_ids").get(i).asText());
      unpack(tar, dir, root);
      i++;
    }
    return new Rootfs(dir, config, digest);
  }

  private static void unpack(byte[] tar, Path dir, boolean root) throws IOException {
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        String name = e.getName().replaceFirst("^\\./", "").replaceFirst("^/+", "");
        if (name.isEmpty()) {
          continue;
        }
        Path target = dir.resolve(name).normalize();
        if (!target.startsWith(dir)) {
          throw new IOException("layer entry outside the root: " + e.getName());
        }
        String base = target.getFileName().toString();
        if (base.equals(".wh..wh..opq")) {
          Sorted.deleteTree(target.getParent());
          Files.createDirectories(target.getParent());
          continue;
        }
        if (base.startsWith(".wh.")) {
          Sorted.deleteTree(target.resolveSibling(base.substring(4)));
          continue;
        }
        Files.createDirectories(target.getParent());
        if (e.isDirectory()) {
          Files.createDirectories(target);
        } else if (e.isSymbolicLink()) {
          Files.deleteIfExists(target);
          Files.createSymbolicLink(target, Path.of(e.getLinkName()));
          continue;
        } else if (e.isLink()) {
          Files.deleteIfExists(target);
          Files.createLink(target, dir.resolve(e.getLinkName().replaceFirst("^/+", "")));
          continue;
        } else {
          Files.deleteIfExists(target);
          Files.copy(in, target);
        }
        Files.setPosixFilePermissions(target, permissions(e.getMode()));
        if (root) {
          Files.setAttribute(target, "unix:uid", (int) e.getLongUserId(), LinkOption.NOFOLLOW_LINKS);
          Files.setAttribute(target, "unix:gid", (int) e.getLongGroupId(), LinkOption.NOFOLLOW_LINKS);
        }
      }
    }
  }

  static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> p = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_READ};
    for (int bit = 0; bit < 9; bit++) {
      if ((mode & (1 << bit)) != 0) {
        p.add(order[bit]);
      }
    }
    return p;
  }

  static boolean isRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /** Which isolation this machine allows, or the test is skipped with the reason. */
  static Isolation isolation() throws Exception {
    if (isRoot() && works(host("unshare"), "--mount", "--pid", "--fork", "true")) {
      return Isolation.CHROOT_AS_IMAGE_USER;
    }
    if (works(host("unshare"), "--user", "--map-root-user", "--mount", "--pid", "--fork", "true")) {
      return Isolation.USER_NAMESPACE;
    }
    Assumptions.abort("this kernel allows neither mount namespaces as root nor unprivileged user namespaces "
        + "(unshare failed both ways), so an image's root filesystem cannot be entered without a container runtime");
    return null;
  }

  private static boolean works(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
  }

  /** The image config's entrypoint, environment and user. */
  List<String> entrypoint() {
    List<String> out = new ArrayList<>();
    config.path("config").path("Entrypoint").forEach(n -> out.add(n.asText()));
    return out;
  }

  Map<String, String> environment() {
    Map<String, String> env = new java.util.LinkedHashMap<>();
    for (JsonNode n : config.path("config").path("Env")) {
      String s = n.asText();
      env.put(s.substring(0, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
    }
    return env;
  }

  String user() {
    return config.path("config").path("User").asText();
  }

  /**
   * Starts the entrypoint with {@code args} inside the root filesystem, with the image's environment plus
   * {@code extraEnv}; its output goes to {@code log}.
   */
  Process start(Isolation isolation, List<String> args, Map<String, String> extraEnv, Path log) throws IOException {
    Files.createDirectories(dir.resolve("proc"));
    Files.createDirectories(dir.resolve("dev"));
    List<String> command = new ArrayList<>(List.of(host("unshare"), "--mount", "--pid", "--fork", "--kill-child"));
    if (isolation == Isolation.USER_NAMESPACE) {
      command.addAll(1, List.of("--user", "--map-root-user"));
    }
    String chroot = host("chroot") + (isolation == Isolation.CHROOT_AS_IMAGE_USER ? " --userspec=" + user() : "");
    String mount = host("mount");
    // the host's shell and mount mount /proc and /dev; inside the root, only the image's own files run
    command.addAll(List.of("/bin/sh", "-c", mount + " -t proc proc \"$0/proc\" && " + mount
        + " --rbind /dev \"$0/dev\" && exec " + chroot + " \"$0\" \"$@\"", dir.toString()));
    command.addAll(entrypoint());
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().clear();
    pb.environment().putAll(environment());
    pb.environment().putAll(extraEnv);
    return pb.start();
  }

  /** A tool of the host by absolute path (the child's PATH is the image's). */
  static String host(String tool) {
    for (String dir : List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return dir + "/" + tool;
      }
    }
    throw new IllegalStateException(tool + " is not installed in /usr/bin, /usr/sbin, /bin or /sbin");
  }

  /** Runs to the end and returns exit code and output. */
  Result run(Isolation isolation, List<String> args, Path log, long timeoutSeconds) throws Exception {
    Process p = start(isolation, args, Map.of(), log);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      kill(p);
      throw new AssertionError(args + " ran over " + timeoutSeconds + " s:\n" + Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  record Result(int code, String output) {}

  /**
   * Kills what {@link #start} started, entrypoint included. unshare's --kill-child is not enough: chroot --userspec
   * changes the user before it runs the entrypoint, and a change of user clears the parent-death signal, so the
   * entrypoint would outlive unshare.
   */
  static void kill(Process p) throws InterruptedException {
    List<ProcessHandle> tree = p.descendants().toList();
    tree.forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    p.waitFor();
    for (ProcessHandle h : tree) {
      try {
        h.onExit().get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        throw new IllegalStateException("process " + h.pid() + " outlived SIGKILL", e);
      }
    }
  }

}
