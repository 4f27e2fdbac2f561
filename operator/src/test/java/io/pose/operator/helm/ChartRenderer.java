package io.pose.operator.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Renders the pose-operator Helm chart (helm/pose-operator) with helm-java, the way {@code helm template} does, and
 * parses the result into Fabric8 resources. Kinds Fabric8 does not know (the ServiceMonitor) come back as
 * {@link io.fabric8.kubernetes.api.model.GenericKubernetesResource}.
 *
 * <p>Values are set like {@code helm template --set key=value}: lists as {@code {a,b}}, list elements as
 * {@code key[0].name}, dots inside keys escaped as {@code \.}.
 */
public final class ChartRenderer {
  /** The release name the render methods use unless told otherwise. */
  public static final String RELEASE_NAME = "pose-operator";
  /** The release namespace the render methods use unless told otherwise. */
  public static final String RELEASE_NAMESPACE = "pose-system";
  /**
   * The Kubernetes version templates render against ({@code helm template --kube-version}). helm-java's native Helm
   * is built without the client-go version, so it would otherwise assume v1.20.0, which the chart's kubeVersion
   * constraint (>=1.29.0-0) refuses.
   */
  public static final String KUBE_VERSION = "v1.33.0";
  /** The chart's directory, relative to the repository root. */
  public static final String CHART_PATH = "helm/pose-operator";

  private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---[ \\t]*$");
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private ChartRenderer() {}

  /** The repository root: the nearest folder, from the working directory up, that contains {@code mvnw}. */
  public static Path repoRoot() {
    Path start = Path.of("").toAbsolutePath();
    for (Path p = start; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("mvnw"))) {
        return p;
      }
    }
    throw new IllegalStateException("repository root (a folder with mvnw) not found above " + start);
  }

  /** The chart directory, {@code <repository root>/helm/pose-operator}. */
  public static Path chartDir() {
    Path chart = repoRoot().resolve(CHART_PATH);
    if (!Files.isRegularFile(chart.resolve("Chart.yaml"))) {
      throw new IllegalStateException("no Chart.yaml in " + chart);
    }
    return chart;
  }

  /** A helm-java handle on the chart. */
  public static Helm helm() {
    return new Helm(chartDir());
  }

  /**
   * The YAML {@code helm template} renders for the given release, with the given {@code --set} values and values
   * files (applied in order, files first, as Helm does). Throws {@link IllegalStateException} carrying Helm's
   * message when rendering fails (schema violation, {@code fail} in a template).
   */
  public static String template(String releaseName, String namespace, Map<String, String> setValues,
      List<Path> valuesFiles) {
    return template(releaseName, namespace, KUBE_VERSION, setValues, valuesFiles);
  }

  /** {@link #template(String, String, Map, List)} against a given Kubernetes version. */
  public static String template(String releaseName, String namespace, String kubeVersion,
      Map<String, String> setValues, List<Path> valuesFiles) {
    TemplateCommand command = helm().template().withName(releaseName).withNamespace(namespace)
        .withKubeVersion(kubeVersion);
    for (Path file : valuesFiles) {
      command = command.withValuesFile(file);
    }
    for (Map.Entry<String, String> value : setValues.entrySet()) {
      command = command.set(value.getKey(), value.getValue());
    }
    return command.call();
  }

  /** {@link #template} for release {@value #RELEASE_NAME} in namespace {@value #RELEASE_NAMESPACE}. */
  public static String template(Map<String, String> setValues, Path... valuesFiles) {
    return template(RELEASE_NAME, RELEASE_NAMESPACE, setValues, List.of(valuesFiles));
  }

  /** The rendered resources for release {@value #RELEASE_NAME} in namespace {@value #RELEASE_NAMESPACE}. */
  public static List<HasMetadata> render(Map<String, String> setValues) {
    return parse(template(setValues));
  }

  /** The rendered resources, with values files too. */
  public static List<HasMetadata> render(Map<String, String> setValues, Path... valuesFiles) {
    return parse(template(setValues, valuesFiles));
  }

  /** The rendered resources of any release. */
  public static List<HasMetadata> render(String releaseName, String namespace, Map<String, String> setValues,
      List<Path> valuesFiles) {
    return parse(template(releaseName, namespace, setValues, valuesFiles));
  }

  /** Parses multi-document YAML into resources, skipping empty (or comment-only) documents and flattening lists. */
  public static List<HasMetadata> parse(String multiDocumentYaml) {
    List<HasMetadata> resources = new ArrayList<>();
    for (String document : DOCUMENT_SEPARATOR.split(multiDocumentYaml)) {
      if (isBlank(document)) {
        continue;
      }
      Object parsed = SERIALIZATION.unmarshal(document);
      if (parsed instanceof KubernetesResourceList<?> list) {
        resources.addAll(list.getItems());
      } else if (parsed instanceof HasMetadata resource) {
        resources.add(resource);
      } else {
        throw new IllegalArgumentException("not a Kubernetes resource: " + document);
      }
    }
    return resources;
  }

  /** The resources of one Fabric8 type. */
  public static <T extends HasMetadata> List<T> ofType(List<HasMetadata> resources, Class<T> type) {
    return resources.stream().filter(type::isInstance).map(type::cast).toList();
  }

  /** The resources of one kind (works for kinds Fabric8 has no class for). */
  public static List<HasMetadata> ofKind(List<HasMetadata> resources, String kind) {
    return resources.stream().filter(r -> kind.equals(r.getKind())).toList();
  }

  /** The one resource of a type with that name, if rendered. */
  public static <T extends HasMetadata> Optional<T> find(List<HasMetadata> resources, Class<T> type, String name) {
    return ofType(resources, type).stream().filter(r -> name.equals(r.getMetadata().getName())).findFirst();
  }

  private static boolean isBlank(String document) {
    return document.lines().map(String::strip).allMatch(line -> line.isEmpty() || line.startsWith("#"));
  }
}
