package io.pose.images;

import io.pose.images.ImagePlan.Directory;
import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.FileSource;
import io.pose.images.ImagePlan.Layer;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A JRE base image made on this machine, never pulled: what the default bases (Eclipse Temurin on Ubuntu) provide
 * and the images rely on. glibc, libstdc++, libgcc_s and zlib from this machine's Debian packages (with the loader at
 * /lib64), Java at /opt/java/openjdk made by jlink from the JDK running the test (with the libraries and fonts it
 * draws charts with: the same layer the cuda image carries), /etc/passwd, /etc/hosts and a writable /tmp.
 */
final class TestBaseImage {
  private TestBaseImage() {}

  static ImagePlan plan(Path cache, Path work) throws IOException {
    Set<String> system = new HashSet<>(LibraryCheck.GLIBC);
    system.addAll(TrainerImage.UBUNTU);
    List<Path> roots = new ArrayList<>();
    Map<String, Path> libs = new LinkedHashMap<>();
    for (String soname : system.stream().sorted().toList()) {
      Path p = HostLibraries.find(soname);
      if (p == null) {
        throw new IOException(soname + " is not installed on this machine");
      }
      libs.put(soname, p.toRealPath());
      roots.add(p.toRealPath());
    }
    libs.putAll(HostLibraries.closure(roots, List.of(), system));
    List<Entry> glibc = new ArrayList<>();
    for (Map.Entry<String, Path> lib : libs.entrySet()) {
      glibc.add(new Entry(new FileSource(lib.getValue()), "/lib/x86_64-linux-gnu/" + lib.getKey(), 0755, Images.ROOT));
    }
    glibc.add(new Entry(new FileSource(libs.get("ld-linux-x86-64.so.2")), "/lib64/ld-linux-x86-64.so.2", 0755,
        Images.ROOT));

    Path etc = Files.createDirectories(work.resolve("base-etc"));
    Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/root:/sbin/nologin\n"
        + "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
    Files.writeString(etc.resolve("group"), "root:x:0:\nnogroup:x:65534:\n");
    // as a container runtime writes it: localhost and the container's own host name
    Files.writeString(etc.resolve("hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t"
        + InetAddress.getLocalHost().getHostName() + "\n");
    List<Entry> files = List.of(
        new Entry(new FileSource(etc.resolve("passwd")), "/etc/passwd", 0644, Images.ROOT),
        new Entry(new FileSource(etc.resolve("group")), "/etc/group", 0644, Images.ROOT),
        new Entry(new FileSource(etc.resolve("hosts")), "/etc/hosts", 0644, Images.ROOT),
        new Entry(new Directory(), "/tmp", 0777, Images.ROOT));

    Path jre = Jre.jlink(Path.of(System.getProperty("java.home")), cache);
    List<Layer> layers = List.of(new Layer("glibc", glibc), Jre.layer(jre, system), new Layer("etc", files));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", Jre.JAVA_HOME + "/bin:/usr/bin:/bin");
    env.put("LD_LIBRARY_PATH", Jre.JAVA_HOME + "/lib");
    return new ImagePlan("base-jre", "17", "scratch", layers, List.of(Jre.JAVA_HOME + "/bin/java"), env, "0:0", "/",
        Map.of("org.opencontainers.image.description", "a JRE base made by the tests from this machine's packages"),
        List.of(), Set.copyOf(system));
  }
}
