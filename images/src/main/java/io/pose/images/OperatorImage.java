package io.pose.images;

import io.pose.images.ImagePlan.Entry;
import io.pose.images.ImagePlan.FileSource;
import io.pose.images.ImagePlan.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The operator image ({@code pose-operator}): Quarkus's fast-jar (operator/target/quarkus-app) under
 * {@value #DEPLOYMENTS} on a JRE base, in three layers by how often they change: third-party libraries, Quarkus's
 * generated classes, then the application (quarkus-run.jar, app/ and this project's own jars). The entrypoint is
 * java -jar quarkus-run.jar; health and metrics on port 8080 (/q/health, /q/metrics), as the chart probes them.
 */
public final class OperatorImage {

  public static final String NAME = "pose-operator";
  public static final String DEFAULT_BASE = "eclipse-temurin:17-jre-noble";
  public static final String DEPLOYMENTS = "/deployments";
  public static final int PORT = 8080;

  private OperatorImage() {}

  /** The plan from Quarkus's fast-jar directory. */
  public static ImagePlan plan(Path quarkusApp, String base, Path jre, Images.Release release) throws IOException {
    if (!Files.isRegularFile(quarkusApp.resolve("quarkus-run.jar"))) {
      throw new IOException(quarkusApp + " has no quarkus-run.jar: build the operator with ./mvnw package first");
    }
    List<Layer> layers = new ArrayList<>();
    Set<String> provided = new HashSet<>(LibraryCheck.GLIBC);
    provided.addAll(TrainerImage.UBUNTU);
    Map<String, String> env = new LinkedHashMap<>();
    if (jre != null) {
      layers.add(Jre.layer(jre, provided));
      env.put("LD_LIBRARY_PATH", Jre.JAVA_HOME + "/lib");
    }
    List<Entry> dependencies = new ArrayList<>();
    List<Entry> own = new ArrayList<>();
    for (Entry e : Images.tree(quarkusApp.resolve("lib"), DEPLOYMENTS + "/lib")) {
      String file = e.path().substring(e.path().lastIndexOf('/') + 1);
      (file.startsWith("io.pose.") ? own : dependencies).add(e);
    }
    layers.add(new Layer("dependencies", dependencies));
    layers.add(new Layer("quarkus", Images.tree(quarkusApp.resolve("quarkus"), DEPLOYMENTS + "/quarkus")));
    List<Entry> app = new ArrayList<>(Images.tree(quarkusApp.resolve("app"), DEPLOYMENTS + "/app"));
    app.addAll(own);
    app.add(new Entry(new FileSource(quarkusApp.resolve("quarkus-run.jar")), DEPLOYMENTS + "/quarkus-run.jar", 0644,
        Images.ROOT));
    layers.add(new Layer("app", app));

    env.put("QUARKUS_HTTP_HOST", "0.0.0.0");
    // C1 only: the operator waits on the API server, and C2's compilations of a fresh JVM cost more CPU than they
    // save. With 500 resources at once on 2 cores, the operator's CPU fell from 33-42 s to 12-14 s and the last
    // resource was ready after 25-28 s instead of 35-49 s (docs/benchmarks.md)
    List<String> entrypoint = List.of(Jre.JAVA_HOME + "/bin/java", "-XX:MaxRAMPercentage=75", "-XX:TieredStopAtLevel=1",
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager", "-jar", DEPLOYMENTS + "/quarkus-run.jar");
    return new ImagePlan(NAME, release.tag(), base, List.copyOf(layers), entrypoint, env, Images.USER, DEPLOYMENTS,
        Images.labels(release, NAME, "PoSE context extension: the Kubernetes operator that reconciles "
            + "ContextExtension resources into fetch, train, evaluate and publish Jobs", "Apache-2.0", base),
        List.of(PORT), Set.copyOf(provided));
  }
}
