package io.pose.operator.helm;

import static io.pose.operator.helm.ChartRenderer.RELEASE_NAME;
import static io.pose.operator.helm.ChartRenderer.RELEASE_NAMESPACE;
import static io.pose.operator.helm.ChartRenderer.ofKind;
import static io.pose.operator.helm.ChartRenderer.ofType;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The pose-operator Helm chart (helm/pose-operator), linted and rendered by helm-java (Helm's own Go code). */
class HelmChartTest {

  private static final String ALL = "*";
  private static final List<String> CRUD = List.of("get", "list", "watch", "create", "update", "patch", "delete");
  private static final String CRD_FILE = "contextextensions.pose.io-v1.yml";

  /** The operator's namespaced permissions, exactly as the chart must grant them. */
  static final List<PolicyRule> OPERATOR_RULES = List.of(
      rule("pose.io", List.of("contextextensions"), List.of("get", "list", "watch", "patch", "update")),
      rule("pose.io", List.of("contextextensions/status"), List.of("get", "patch", "update")),
      rule("pose.io", List.of("contextextensions/finalizers"), List.of("update")),
      rule("batch", List.of("jobs"), CRUD),
      rule("", List.of("configmaps", "serviceaccounts", "services"), CRUD),
      rule("", List.of("persistentvolumeclaims"), List.of("get", "create", "patch")),
      rule("rbac.authorization.k8s.io", List.of("roles", "rolebindings"), CRUD),
      rule("", List.of("secrets"), List.of("get")),
      rule("", List.of("pods"), List.of("get", "list")),
      rule("", List.of("events"), List.of("create", "patch")),
      rule("events.k8s.io", List.of("events"), List.of("create", "patch")),
      rule("scheduling.volcano.sh", List.of("podgroups"), CRUD));

  /** The cluster-scoped permission that every mode needs: reading the CRD. */
  static final List<PolicyRule> CRD_RULES = List.of(
      rule("apiextensions.k8s.io", List.of("customresourcedefinitions"), List.of("get", "list")));

  private static PolicyRule rule(String group, List<String> resources, List<String> verbs) {
    return new PolicyRuleBuilder().withApiGroups(group).withResources(resources).withVerbs(verbs).build();
  }

  @Test
  void strictLintPasses() {
    LintResult lint = ChartRenderer.helm().lint().strict().call();

    assertThat(lint.isFailed()).as("lint failed: %s", lint.getMessages()).isFalse();
    assertThat(lint.getMessages()).noneMatch(m -> m.contains("[ERROR]") || m.contains("[WARNING]"));
  }

  @Test
  void chartShipsTheCrdAndItsRulesNameTheCrdsGroupAndPlural() throws IOException {
    Path crdFile = ChartRenderer.chartDir().resolve("crds").resolve(CRD_FILE);
    CustomResourceDefinition crd = new KubernetesSerialization()
        .unmarshal(Files.readString(crdFile), CustomResourceDefinition.class);

    assertThat(crd.getMetadata().getName()).isEqualTo("contextextensions.pose.io");
    assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
    String group = crd.getSpec().getGroup();
    String plural = crd.getSpec().getNames().getPlural();
    assertThat(OPERATOR_RULES).anySatisfy(r -> {
      assertThat(r.getApiGroups()).containsExactly(group);
      assertThat(r.getResources()).containsExactly(plural);
    });
    assertThat(OPERATOR_RULES).anySatisfy(r -> assertThat(r.getResources()).containsExactly(plural + "/status"));
    assertThat(OPERATOR_RULES).anySatisfy(r -> assertThat(r.getResources()).containsExactly(plural + "/finalizers"));
  }

  @Nested
  class DefaultValues {
    private final List<HasMetadata> resources = ChartRenderer.render(Map.of());
    private final Deployment deployment = single(resources, Deployment.class);
    private final PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    private final Container container = single(pod.getContainers());

    @Test
    void rendersExactlyTheExpectedKinds() {
      assertThat(resources).extracting(HasMetadata::getKind).containsExactlyInAnyOrder(
          "ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Service",
          "Deployment");
      assertThat(ofType(resources, Role.class)).isEmpty();
      assertThat(ofType(resources, RoleBinding.class)).isEmpty();
      assertThat(ofKind(resources, "ServiceMonitor")).isEmpty();
    }

    @Test
    void everyResourceCarriesTheStandardLabelsAndNamespacedOnesLiveInTheReleaseNamespace() {
      assertThat(resources).allSatisfy(r -> {
        assertThat(r.getMetadata().getLabels()).containsEntry("app.kubernetes.io/name", "pose-operator")
            .containsEntry("app.kubernetes.io/instance", RELEASE_NAME)
            .containsEntry("app.kubernetes.io/version", "0.1.0")
            .containsEntry("app.kubernetes.io/managed-by", "Helm")
            .containsEntry("helm.sh/chart", "pose-operator-0.1.0");
        boolean clusterScoped = r instanceof ClusterRole || r instanceof ClusterRoleBinding;
        assertThat(r.getMetadata().getNamespace()).as(r.getKind())
            .isEqualTo(clusterScoped ? null : RELEASE_NAMESPACE);
      });
    }

    @Test
    void deploymentRunsOneOperatorWithTheImageFromAppVersion() {
      assertThat(deployment.getMetadata().getName()).isEqualTo("pose-operator");
      assertThat(deployment.getSpec().getReplicas()).isEqualTo(1);
      assertThat(deployment.getSpec().getStrategy().getType()).isEqualTo("Recreate");
      assertThat(container.getImage()).isEqualTo("ghcr.io/pose-io/pose-operator:0.1.0");
      assertThat(container.getImagePullPolicy()).isEqualTo("IfNotPresent");
      assertThat(container.getPorts()).singleElement().satisfies(p -> {
        assertThat(p.getName()).isEqualTo("http");
        assertThat(p.getContainerPort()).isEqualTo(8080);
        assertThat(p.getProtocol()).isEqualTo("TCP");
      });
      assertThat(pod.getImagePullSecrets()).isEmpty();
      assertThat(pod.getPriorityClassName()).isNull();
      assertThat(pod.getNodeSelector()).isEmpty();
      assertThat(pod.getTolerations()).isEmpty();
      assertThat(pod.getAffinity()).isNull();
    }

    @Test
    void selectorLabelsMatchThePodLabels() {
      Map<String, String> selector = deployment.getSpec().getSelector().getMatchLabels();
      assertThat(selector).containsOnlyKeys("app.kubernetes.io/name", "app.kubernetes.io/instance");
      assertThat(deployment.getSpec().getSelector().getMatchExpressions()).isEmpty();
      assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(selector);
    }

    @Test
    void runsAsNonRootWithAReadOnlyRootFilesystemAndAWritableTmp() {
      assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(65532L);
      assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");

      assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
      assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
      assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
      assertThat(container.getSecurityContext().getCapabilities().getAdd()).isEmpty();
      assertThat(container.getSecurityContext().getPrivileged()).isNotEqualTo(Boolean.TRUE);

      VolumeMount tmp = container.getVolumeMounts().stream().filter(m -> "/tmp".equals(m.getMountPath()))
          .findFirst().orElseThrow(() -> new AssertionError("no volume mounted at /tmp"));
      assertThat(tmp.getReadOnly()).isNotEqualTo(Boolean.TRUE);
      Volume volume = pod.getVolumes().stream().filter(v -> v.getName().equals(tmp.getName())).findFirst()
          .orElseThrow(() -> new AssertionError("no volume named " + tmp.getName()));
      assertThat(volume.getEmptyDir()).as("the /tmp volume is an emptyDir").isNotNull();
    }

    @Test
    void probesUseTheQuarkusHealthEndpointsOnTheHttpPort() {
      assertProbe(container.getStartupProbe(), "/q/health/started");
      assertProbe(container.getLivenessProbe(), "/q/health/live");
      assertProbe(container.getReadinessProbe(), "/q/health/ready");
      assertThat(container.getStartupProbe().getFailureThreshold() * container.getStartupProbe().getPeriodSeconds())
          .as("seconds a slow JVM start is given").isGreaterThanOrEqualTo(60);
    }

    private void assertProbe(Probe probe, String path) {
      assertThat(probe).as(path).isNotNull();
      assertThat(probe.getHttpGet().getPath()).isEqualTo(path);
      assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("http");
    }

    @Test
    void environmentConfiguresTheOperator() {
      Map<String, EnvVar> env = env(container);

      assertThat(env.get("POSE_OPERATOR_TRAINER_IMAGE").getValue()).isEqualTo("ghcr.io/pose-io/pose-trainer:0.1.0");
      assertThat(env.get("POSE_OPERATOR_RESYNC_PERIOD").getValue()).isEqualTo("5m");
      assertThat(env.get("QUARKUS_LOG_LEVEL").getValue()).isEqualTo("INFO");
      EnvVar namespace = env.get("POSE_OPERATOR_NAMESPACE");
      assertThat(namespace.getValue()).isNull();
      assertThat(namespace.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.namespace");
      assertThat(env).as("absent means all namespaces").doesNotContainKey("POSE_OPERATOR_WATCH_NAMESPACES");
      assertThat(env).containsOnlyKeys("POSE_OPERATOR_TRAINER_IMAGE", "POSE_OPERATOR_RESYNC_PERIOD",
          "QUARKUS_LOG_LEVEL", "POSE_OPERATOR_NAMESPACE");
    }

    @Test
    void resourcesSuitAJvm() {
      assertThat(container.getResources().getRequests())
          .containsEntry("cpu", new Quantity("250m")).containsEntry("memory", new Quantity("512Mi"));
      assertThat(container.getResources().getLimits()).containsEntry("memory", new Quantity("1Gi"));
    }

    @Test
    void serviceAccountIsCreatedAndUsedByThePod() {
      ServiceAccount sa = single(resources, ServiceAccount.class);
      assertThat(sa.getMetadata().getName()).isEqualTo("pose-operator");
      assertThat(pod.getServiceAccountName()).isEqualTo(sa.getMetadata().getName());
      assertThat(pod.getAutomountServiceAccountToken()).isNotEqualTo(Boolean.FALSE);
    }

    @Test
    void serviceSelectsTheOperatorPodOnItsHttpPort() {
      Service service = single(resources, Service.class);
      assertThat(service.getSpec().getType()).isEqualTo("ClusterIP");
      assertThat(service.getSpec().getSelector()).isNotEmpty();
      assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels())
          .containsAllEntriesOf(service.getSpec().getSelector());
      ServicePort port = single(service.getSpec().getPorts());
      assertThat(port.getName()).isEqualTo("http");
      assertThat(port.getPort()).isEqualTo(8080);
      String target = port.getTargetPort().getStrVal();
      assertThat(container.getPorts()).extracting(ContainerPort::getName).contains(target);
      assertThat(service.getMetadata().getAnnotations()).isNullOrEmpty();
    }

    @Test
    void clusterRoleGrantsExactlyTheOperatorRulesInAllNamespaces() {
      ClusterRole operatorRole = clusterRoleWithout(resources, CRD_RULES);
      assertThat(operatorRole.getRules()).containsExactlyElementsOf(OPERATOR_RULES);
      assertThat(operatorRole.getAggregationRule()).isNull();
      assertBoundToServiceAccount(resources, operatorRole, "pose-operator", RELEASE_NAMESPACE);
    }

    @Test
    void crdReaderClusterRoleIsSeparateAndBound() {
      ClusterRole crdReader = crdReader(resources);
      assertThat(crdReader.getMetadata().getName()).endsWith("-crd-reader");
      assertBoundToServiceAccount(resources, crdReader, "pose-operator", RELEASE_NAMESPACE);
    }
  }

  @Nested
  class NonDefaultValues {
    @TempDir
    Path tmp;

    private List<HasMetadata> render() throws IOException {
      Path values = tmp.resolve("values.yaml");
      Files.writeString(values, """
          watchNamespaces: [team-a, team-b]
          extraEnv:
            - name: HTTPS_PROXY
              value: http://proxy.example:3128
            - name: POSE_OPERATOR_HF_TOKEN_SECRET
              valueFrom:
                secretKeyRef: {name: hf-token, key: token}
          metrics:
            service:
              annotations:
                prometheus.io/scrape: "true"
          """);
      return ChartRenderer.render(Map.of(
          "image.tag", "0.2.0-rc1",
          "trainerImage.repository", "registry.example:5000/ml/pose-trainer",
          "trainerImage.tag", "0.2.0-cuda12",
          "logLevel", "DEBUG",
          "resyncPeriod", "90s",
          "metrics.serviceMonitor.enabled", "true",
          "metrics.serviceMonitor.labels.release", "kube-prometheus-stack"), values);
    }

    @Test
    void oneRoleAndRoleBindingInEachWatchedNamespaceBoundToTheReleaseServiceAccount() throws IOException {
      List<HasMetadata> resources = render();

      List<Role> roles = ofType(resources, Role.class);
      List<RoleBinding> bindings = ofType(resources, RoleBinding.class);
      assertThat(roles).extracting(r -> r.getMetadata().getNamespace()).containsExactlyInAnyOrder("team-a", "team-b");
      assertThat(bindings).extracting(b -> b.getMetadata().getNamespace())
          .containsExactlyInAnyOrder("team-a", "team-b");
      String sa = single(resources, ServiceAccount.class).getMetadata().getName();
      for (Role role : roles) {
        assertThat(role.getRules()).containsExactlyElementsOf(OPERATOR_RULES);
        RoleBinding binding = bindings.stream()
            .filter(b -> b.getMetadata().getNamespace().equals(role.getMetadata().getNamespace())).findFirst()
            .orElseThrow();
        assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
        assertThat(binding.getRoleRef().getApiGroup()).isEqualTo("rbac.authorization.k8s.io");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
          assertThat(s.getKind()).isEqualTo("ServiceAccount");
          assertThat(s.getName()).isEqualTo(sa);
          assertThat(s.getNamespace()).isEqualTo(RELEASE_NAMESPACE);
        });
      }
    }

    @Test
    void onlyTheCrdReaderStaysClusterScoped() throws IOException {
      List<HasMetadata> resources = render();

      ClusterRole crdReader = single(resources, ClusterRole.class);
      assertThat(crdReader.getRules()).containsExactlyElementsOf(CRD_RULES);
      assertBoundToServiceAccount(resources, crdReader, "pose-operator", RELEASE_NAMESPACE);
      assertThat(ofType(resources, ClusterRoleBinding.class)).hasSize(1);
      assertThat(ofType(resources, ClusterRole.class)).noneMatch(r -> r.getRules().stream()
          .anyMatch(rule -> rule.getApiGroups().contains("pose.io") || rule.getApiGroups().contains(ALL)));
    }

    @Test
    void environmentNamesTheWatchedNamespacesAndCarriesExtraEnv() throws IOException {
      Container container = operatorContainer(render());
      Map<String, EnvVar> env = env(container);

      assertThat(container.getImage()).isEqualTo("ghcr.io/pose-io/pose-operator:0.2.0-rc1");
      assertThat(env.get("POSE_OPERATOR_WATCH_NAMESPACES").getValue()).isEqualTo("team-a,team-b");
      assertThat(env.get("POSE_OPERATOR_TRAINER_IMAGE").getValue())
          .isEqualTo("registry.example:5000/ml/pose-trainer:0.2.0-cuda12");
      assertThat(env.get("QUARKUS_LOG_LEVEL").getValue()).isEqualTo("DEBUG");
      assertThat(env.get("POSE_OPERATOR_RESYNC_PERIOD").getValue()).isEqualTo("90s");
      assertThat(env.get("HTTPS_PROXY").getValue()).isEqualTo("http://proxy.example:3128");
      assertThat(env.get("POSE_OPERATOR_HF_TOKEN_SECRET").getValueFrom().getSecretKeyRef().getName())
          .isEqualTo("hf-token");
      assertThat(env.get("POSE_OPERATOR_NAMESPACE").getValueFrom().getFieldRef().getFieldPath())
          .isEqualTo("metadata.namespace");
    }

    @Test
    void serviceMonitorScrapesQuarkusMetricsFromTheService() throws IOException {
      List<HasMetadata> resources = render();
      Service service = single(resources, Service.class);
      assertThat(service.getMetadata().getAnnotations()).containsEntry("prometheus.io/scrape", "true");

      List<HasMetadata> monitors = ofKind(resources, "ServiceMonitor");
      assertThat(monitors).singleElement().isInstanceOf(GenericKubernetesResource.class);
      GenericKubernetesResource monitor = (GenericKubernetesResource) monitors.get(0);
      assertThat(monitor.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
      assertThat(monitor.getMetadata().getNamespace()).isEqualTo(RELEASE_NAMESPACE);
      assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kube-prometheus-stack");
      assertThat((String) monitor.get("spec", "endpoints", 0, "path")).isEqualTo("/q/metrics");
      assertThat((String) monitor.get("spec", "endpoints", 0, "port"))
          .isEqualTo(single(service.getSpec().getPorts()).getName());
      assertThat((String) monitor.get("spec", "endpoints", 0, "interval")).isEqualTo("30s");
      assertThat((String) monitor.get("spec", "endpoints", 0, "scrapeTimeout")).isEqualTo("10s");
      Map<String, String> matchLabels = monitor.get("spec", "selector", "matchLabels");
      assertThat(matchLabels).isNotEmpty();
      assertThat(service.getMetadata().getLabels()).containsAllEntriesOf(matchLabels);
      List<String> namespaces = monitor.get("spec", "namespaceSelector", "matchNames");
      assertThat(namespaces).containsExactly(RELEASE_NAMESPACE);
    }
  }

  @Test
  void existingServiceAccountIsUsedAndNoneCreated() {
    List<HasMetadata> resources = ChartRenderer.render(
        Map.of("serviceAccount.create", "false", "serviceAccount.name", "platform-operators"));

    assertThat(ofType(resources, ServiceAccount.class)).isEmpty();
    assertThat(single(resources, Deployment.class).getSpec().getTemplate().getSpec().getServiceAccountName())
        .isEqualTo("platform-operators");
    assertThat(ofType(resources, ClusterRoleBinding.class)).hasSize(2).allSatisfy(b ->
        assertThat(b.getSubjects()).extracting(Subject::getName).containsExactly("platform-operators"));
  }

  @Test
  void metricsServiceCanBeTurnedOffButNotUnderAServiceMonitor() {
    List<HasMetadata> resources = ChartRenderer.render(Map.of("metrics.service.enabled", "false"));
    assertThat(ofType(resources, Service.class)).isEmpty();
    assertThat(ofKind(resources, "ServiceMonitor")).isEmpty();

    assertThatThrownBy(() -> ChartRenderer.render(
        Map.of("metrics.service.enabled", "false", "metrics.serviceMonitor.enabled", "true")))
        .hasMessageContaining("metrics.serviceMonitor.enabled needs metrics.service.enabled");
  }

  @Test
  void podLabelsAreAddedButCannotOverrideTheSelectorLabels() {
    Deployment deployment = single(ChartRenderer.render(Map.of(
        "podLabels.team", "ml-platform",
        "podLabels.app\\.kubernetes\\.io/name", "something-else",
        "podAnnotations.example\\.com/owner", "ml")), Deployment.class);

    Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(podLabels).containsEntry("team", "ml-platform")
        .containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels())
        .containsEntry("app.kubernetes.io/name", "pose-operator");
    assertThat(deployment.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("example.com/owner", "ml");
  }

  @Test
  void releasesOfTheSameNameInTwoNamespacesDoNotShareClusterScopedNames() {
    List<HasMetadata> first = ChartRenderer.render("pose", "ml-a", Map.of(), List.of());
    List<HasMetadata> second = ChartRenderer.render("pose", "ml-b", Map.of(), List.of());

    assertThat(single(first, Deployment.class).getMetadata().getName()).isEqualTo("pose-pose-operator");
    Set<String> firstNames = clusterScopedNames(first);
    Set<String> secondNames = clusterScopedNames(second);
    assertThat(firstNames).hasSize(4);
    assertThat(secondNames).hasSize(4).doesNotContainAnyElementsOf(firstNames);
    assertThat(ofType(second, ClusterRoleBinding.class)).allSatisfy(b ->
        assertThat(b.getSubjects()).extracting(Subject::getNamespace).containsExactly("ml-b"));
  }

  @Test
  void kubernetesOlderThan129IsRefused() {
    assertThatThrownBy(() -> ChartRenderer.template(RELEASE_NAME, RELEASE_NAMESPACE, "v1.28.9", Map.of(), List.of()))
        .hasMessageContaining("incompatible with Kubernetes v1.28.9");
    assertThat(ChartRenderer.template(RELEASE_NAME, RELEASE_NAMESPACE, "v1.29.0", Map.of(), List.of()))
        .contains("kind: Deployment");
  }

  @Test
  void notesTellHowToFollowContextExtensions() {
    Release release = ChartRenderer.helm().install().clientOnly().dryRun().withName(RELEASE_NAME)
        .withNamespace(RELEASE_NAMESPACE).withKubeVersion(ChartRenderer.KUBE_VERSION)
        .set("watchNamespaces[0]", "team-a").set("watchNamespaces[1]", "team-b").call();

    assertThat(release.getOutput())
        .contains("kubectl get cx -A")
        .contains("examples/tiny-local.yaml")
        .contains("in: team-a, team-b")
        .contains("ghcr.io/pose-io/pose-trainer:0.1.0")
        .contains("kubectl -n pose-system rollout status deployment/pose-operator")
        .contains("http://pose-operator.pose-system.svc:8080/q/metrics");
  }

  static Stream<Arguments> invalidValues() {
    return Stream.of(
        Arguments.of(Map.of("imagee.tag", "x"), "additional properties 'imagee' not allowed"),
        Arguments.of(Map.of("image.tagg", "x"), "additional properties 'tagg' not allowed"),
        Arguments.of(Map.of("metrics.serviceMonitor.enabeld", "true"), "additional properties 'enabeld' not allowed"),
        Arguments.of(Map.of("securityContext.readOnlyRootFileSystem", "true"),
            "additional properties 'readOnlyRootFileSystem' not allowed"),
        Arguments.of(Map.of("replicaCount", "2"), "/replicaCount"),
        Arguments.of(Map.of("replicaCount", "0"), "/replicaCount"),
        Arguments.of(Map.of("image.pullPolicy", "Sometimes"), "/image/pullPolicy"),
        Arguments.of(Map.of("logLevel", "VERBOSE"), "/logLevel"),
        Arguments.of(Map.of("resyncPeriod", "5min"), "/resyncPeriod"),
        Arguments.of(Map.of("watchNamespaces[0]", "Team_A"), "/watchNamespaces/0"),
        Arguments.of(Map.of("metrics.service.port", "70000"), "/metrics/service/port"),
        Arguments.of(Map.of("metrics.serviceMonitor.interval", "30 seconds"), "/metrics/serviceMonitor/interval"),
        Arguments.of(Map.of("extraEnv[0].value", "no-name"), "/extraEnv/0"));
  }

  @ParameterizedTest
  @MethodSource("invalidValues")
  void schemaRejectsInvalidValues(Map<String, String> setValues, String message) {
    assertThatThrownBy(() -> ChartRenderer.template(setValues))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("values don't meet the specifications of the schema")
        .hasMessageContaining(message);
  }

  @Test
  void schemaRejectsAnUnknownTopLevelKeyInAValuesFile(@TempDir Path tmp) throws IOException {
    Path values = Files.writeString(tmp.resolve("typo.yaml"), """
        image:
          tag: 0.2.0
        watchNamespace: [team-a]
        """);

    assertThatThrownBy(() -> ChartRenderer.template(Map.of(), values))
        .hasMessageContaining("values don't meet the specifications of the schema")
        .hasMessageContaining("additional properties 'watchNamespace' not allowed");
  }

  private static Set<String> clusterScopedNames(List<HasMetadata> resources) {
    return resources.stream().filter(r -> r instanceof ClusterRole || r instanceof ClusterRoleBinding)
        .map(r -> r.getKind() + "/" + r.getMetadata().getName()).collect(Collectors.toCollection(HashSet::new));
  }

  private static ClusterRole crdReader(List<HasMetadata> resources) {
    List<ClusterRole> readers = ofType(resources, ClusterRole.class).stream()
        .filter(r -> r.getRules().equals(CRD_RULES)).toList();
    assertThat(readers).as("ClusterRoles granting exactly the CRD read").hasSize(1);
    return readers.get(0);
  }

  private static ClusterRole clusterRoleWithout(List<HasMetadata> resources, List<PolicyRule> rules) {
    List<ClusterRole> others = ofType(resources, ClusterRole.class).stream()
        .filter(r -> !r.getRules().equals(rules)).toList();
    assertThat(others).hasSize(1);
    return others.get(0);
  }

  private static void assertBoundToServiceAccount(List<HasMetadata> resources, ClusterRole role, String sa,
      String namespace) {
    List<ClusterRoleBinding> bindings = ofType(resources, ClusterRoleBinding.class).stream()
        .filter(b -> "ClusterRole".equals(b.getRoleRef().getKind())
            && role.getMetadata().getName().equals(b.getRoleRef().getName()))
        .toList();
    assertThat(bindings).as("bindings of ClusterRole %s", role.getMetadata().getName()).singleElement()
        .satisfies(b -> {
          assertThat(b.getRoleRef().getApiGroup()).isEqualTo("rbac.authorization.k8s.io");
          assertThat(b.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo(sa);
            assertThat(s.getNamespace()).isEqualTo(namespace);
          });
        });
  }

  private static Container operatorContainer(List<HasMetadata> resources) {
    return single(single(resources, Deployment.class).getSpec().getTemplate().getSpec().getContainers());
  }

  /** The container's env by name; fails on a duplicated name (Kubernetes would silently keep the last one). */
  private static Map<String, EnvVar> env(Container container) {
    return container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e, (a, b) -> {
      throw new AssertionError("env " + a.getName() + " set twice");
    }));
  }

  private static <T extends HasMetadata> T single(List<HasMetadata> resources, Class<T> type) {
    List<T> matching = ofType(resources, type);
    assertThat(matching).as(type.getSimpleName()).hasSize(1);
    return matching.get(0);
  }

  private static <T> T single(List<T> items) {
    assertThat(items).hasSize(1);
    return items.get(0);
  }

}
