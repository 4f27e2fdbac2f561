package io.pose.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.OperatorHarness;
import io.pose.operator.build.SupportingObjects;
import io.pose.operator.config.OperatorSettings;
import io.pose.operator.model.Resolved;
import io.pose.operator.reconciler.ContextExtensionReconciler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart grants exactly what the operator's code needs. The needed permissions are not written by hand:
 * QOSDK derives them at build time from the reconciler's dependents (their types and whether they create,
 * update or delete) and its {@code @RBACRule} annotations, into target/kubernetes/kubernetes.yml. Runs
 * after {@code package}, hence an IT.
 */
class HelmRbacIT {

  /**
   * QOSDK grants create and delete on the primary resource by default; the operator never creates or
   * deletes a ContextExtension, so the chart withholds them.
   */
  private static final Set<String> UNUSED_DEFAULTS = Set.of("pose.io/contextextensions:create",
      "pose.io/contextextensions:delete", "pose.io/contextextensions/status:create", "pose.io/contextextensions/status:delete",
      "pose.io/contextextensions/status:list", "pose.io/contextextensions/status:watch",
      "pose.io/contextextensions/finalizers:create", "pose.io/contextextensions/finalizers:delete",
      "pose.io/contextextensions/finalizers:get", "pose.io/contextextensions/finalizers:list",
      "pose.io/contextextensions/finalizers:watch", "pose.io/contextextensions/finalizers:patch");

  /** Cluster-scoped grants: in a separate ClusterRole even when the operator watches listed namespaces. */
  private static final Set<String> CLUSTER_SCOPED = Set.of("apiextensions.k8s.io/customresourcedefinitions");

  private static Set<String> needed;

  @BeforeAll
  static void readWhatTheCodeNeeds() throws Exception {
    Path generated = OperatorHarness.repoRoot().resolve("operator/target/kubernetes/kubernetes.yml");
    assertThat(generated).as("run after `package`: QOSDK writes it").exists();
    needed = new TreeSet<>();
    for (HasMetadata o : ChartRenderer.parse(Files.readString(generated))) {
      if (o instanceof ClusterRole role && role.getMetadata().getName().startsWith(ContextExtensionReconciler.NAME)) {
        needed.addAll(grants(role.getRules()));
      }
    }
    needed.removeAll(UNUSED_DEFAULTS);
    assertThat(needed).as("QOSDK generated the operator's rules").contains("batch/jobs:create", "/secrets:get");
  }

  @Test
  void defaultInstallGrantsExactlyWhatTheCodeUses() {
    List<HasMetadata> rendered = ChartRenderer.render(Map.of());
    Set<String> granted = new TreeSet<>();
    for (ClusterRoleBinding binding : ChartRenderer.ofType(rendered, ClusterRoleBinding.class)) {
      assertThat(binding.getSubjects()).anyMatch(s -> "ServiceAccount".equals(s.getKind()));
      ClusterRole role = ChartRenderer.find(rendered, ClusterRole.class, binding.getRoleRef().getName()).orElseThrow();
      granted.addAll(grants(role.getRules()));
    }
    assertThat(granted).isEqualTo(needed);
  }

  @Test
  void namespacedInstallGrantsTheSameInEveryWatchedNamespace() {
    List<HasMetadata> rendered = ChartRenderer.render(Map.of("watchNamespaces[0]", "team-a", "watchNamespaces[1]", "team-b"));
    Set<String> namespaced = new TreeSet<>(needed);
    namespaced.removeIf(g -> CLUSTER_SCOPED.contains(g.substring(0, g.indexOf(':'))));
    for (String ns : List.of("team-a", "team-b")) {
      RoleBinding binding = ChartRenderer.ofType(rendered, RoleBinding.class).stream()
          .filter(b -> ns.equals(b.getMetadata().getNamespace())).findFirst().orElseThrow();
      Role role = ChartRenderer.ofType(rendered, Role.class).stream()
          .filter(r -> ns.equals(r.getMetadata().getNamespace()) && r.getMetadata().getName().equals(binding.getRoleRef().getName()))
          .findFirst().orElseThrow();
      assertThat(new TreeSet<>(grants(role.getRules()))).as(ns).isEqualTo(namespaced);
    }
    Set<String> cluster = new TreeSet<>();
    ChartRenderer.ofType(rendered, ClusterRole.class).forEach(r -> cluster.addAll(grants(r.getRules())));
    assertThat(cluster).isEqualTo(new TreeSet<>(needed.stream()
        .filter(g -> CLUSTER_SCOPED.contains(g.substring(0, g.indexOf(':')))).toList()));
  }

  /** Kubernetes refuses to let the operator grant what it does not hold itself (RBAC escalation prevention). */
  @Test
  void theOperatorHoldsEveryPermissionItGrantsStagePods() {
    ContextExtension cx = OperatorHarness.example("mistral-32k.yaml");
    cx.getMetadata().setNamespace("team-a");
    Role stageRole = SupportingObjects.role(Resolved.of(cx, OperatorSettings.defaults(), null));
    assertThat(needed).containsAll(grants(stageRole.getRules()));
  }

  private static List<String> grants(List<PolicyRule> rules) {
    List<String> out = new java.util.ArrayList<>();
    for (PolicyRule rule : rules) {
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          for (String verb : rule.getVerbs()) {
            out.add(group + "/" + resource + ":" + verb);
          }
        }
      }
    }
    return out;
  }
}
