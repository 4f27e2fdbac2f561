package io.pose.operator.build;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.SchedulingSettings;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.VolcanoSettings;
import io.pose.operator.Fixtures;
import io.pose.operator.model.Resolved;
import io.pose.operator.model.volcano.PodGroup;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SupportingObjectsTest {

  static final YAMLMapper YAML = new YAMLMapper();

  static ContextExtension volcano(String file, String queue) {
    ContextExtension cx = Fixtures.example(file);
    SchedulingSettings scheduling = new SchedulingSettings();
    VolcanoSettings v = new VolcanoSettings();
    v.setQueue(queue);
    scheduling.setVolcano(v);
    cx.getSpec().setScheduling(scheduling);
    return cx;
  }

  static Stream<HasMetadata> everyObject(Resolved r) {
    return Stream.of(SupportingObjects.config(r), SupportingObjects.progress(r), SupportingObjects.serviceAccount(r),
        SupportingObjects.role(r), SupportingObjects.roleBinding(r), SupportingObjects.rendezvousService(r),
        SupportingObjects.workspaceClaim(r));
  }

  @ParameterizedTest
  @ValueSource(strings = {"mistral-32k.yaml", "multi-node-kueue.yaml", "tiny-local.yaml", "llama2-7b-16k.yaml"})
  void everyObjectIsLabelledNamespacedAndOwned(String file) {
    ContextExtension cx = Fixtures.example(file);
    String name = cx.getMetadata().getName();
    Resolved r = Fixtures.resolve(cx);
    List<HasMetadata> objects = Stream.concat(everyObject(r), Stream.of(SupportingObjects.podGroup(Fixtures.resolve(
        volcano(file, "q"))))).toList();
    assertThat(objects).extracting(o -> o.getMetadata().getName()).containsExactly(
        name + "-config", name + "-progress", name + "-stage", name + "-stage", name + "-stage", name + "-rdzv",
        name + "-workspace", name + "-train");
    for (HasMetadata o : objects) {
      assertThat(o.getMetadata().getNamespace()).as(o.getKind()).isEqualTo(cx.getMetadata().getNamespace());
      assertThat(o.getMetadata().getLabels()).as(o.getKind())
          .containsEntry("app.kubernetes.io/managed-by", "pose-operator")
          .containsEntry("pose.io/context-extension", name)
          .doesNotContainKey("pose.io/stage");
      assertThat(o.getMetadata().getOwnerReferences()).as(o.getKind()).singleElement().satisfies(ref -> {
        assertThat(ref.getUid()).isEqualTo(Fixtures.UID);
        assertThat(ref.getController()).isTrue();
        assertThat(ref.getKind()).isEqualTo("ContextExtension");
        assertThat(ref.getApiVersion()).isEqualTo("pose.io/v1alpha1");
        assertThat(ref.getName()).isEqualTo(name);
      });
    }
  }

  @Test
  void noOwnerReferencesWithoutUid() {
    ContextExtension cx = volcano("mistral-32k.yaml", "q");
    cx.getMetadata().setUid(null);
    Resolved r = Fixtures.resolve(cx);
    Stream.concat(everyObject(r), Stream.of(SupportingObjects.podGroup(r))).forEach(o ->
        assertThat(o.getMetadata().getOwnerReferences()).as(o.getKind()).isEmpty());
  }

  @Nested
  class TrainerConfig {

    @ParameterizedTest
    @ValueSource(strings = {"mistral-32k.yaml", "multi-node-kueue.yaml", "tiny-local.yaml", "llama2-7b-16k.yaml"})
    void configYamlParsesBackToTheSameSpec(String file) {
      ContextExtension cx = Fixtures.example(file);
      ConfigMap cm = SupportingObjects.config(Fixtures.resolve(cx));

      assertThat(cm.getMetadata().getName()).isEqualTo(cx.getMetadata().getName() + "-config");
      assertThat(cm.getData()).containsOnlyKeys("config.yaml");
      ContextExtension parsed = SpecIO.parse(cm.getData().get("config.yaml"), "config.yaml");
      assertThat(SpecIO.fingerprint(parsed.getSpec())).isEqualTo(SpecIO.fingerprint(cx.getSpec()));
      // the spec as written (not defaulted): the trainer applies the same defaults itself
      assertThat(SpecIO.toYaml(parsed.getSpec())).isEqualTo(SpecIO.toYaml(cx.getSpec()));
      assertThat(parsed.getMetadata().getName()).isEqualTo(cx.getMetadata().getName());
      assertThat(parsed.getMetadata().getNamespace()).isEqualTo(cx.getMetadata().getNamespace());
      assertThat(parsed.getMetadata().getUid()).isEqualTo(Fixtures.UID);
      assertThat(parsed.getApiVersion()).isEqualTo("pose.io/v1alpha1");
      assertThat(parsed.getKind()).isEqualTo("ContextExtension");
    }

    @Test
    void configHasNoStatusEvenWhenTheResourceHasOne() throws Exception {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      ContextExtensionStatus status = new ContextExtensionStatus();
      status.setPhase(Phase.Training);
      status.setMessage("Train is running");
      cx.setStatus(status);
      cx.getMetadata().setResourceVersion("4711");
      cx.getMetadata().setLabels(Map.of("team", "a"));

      String yaml = SupportingObjects.config(Fixtures.resolve(cx)).getData().get("config.yaml");
      JsonNode tree = YAML.readTree(yaml);
      assertThat(tree.has("status")).isFalse();
      assertThat(tree.has("spec")).isTrue();
      // only the identity a stage needs, not the server's bookkeeping
      assertThat(tree.get("metadata").has("resourceVersion")).isFalse();
      assertThat(tree.get("metadata").has("labels")).isFalse();
      ContextExtension parsed = SpecIO.parse(yaml, "config.yaml");
      assertThat(parsed.getStatus() == null || parsed.getStatus().getPhase() == null).isTrue();
      // the resource itself is untouched
      assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Training);
    }
  }

  @Nested
  class Progress {

    @Test
    void createdEmptyWithSchemaVersion() {
      ConfigMap cm = SupportingObjects.progress(Fixtures.resolved("mistral-32k.yaml"));
      assertThat(cm.getMetadata().getName()).isEqualTo("mistral-7b-32k-progress");
      assertThat(cm.getData()).isNullOrEmpty();
      assertThat(cm.getBinaryData()).isNullOrEmpty();
      assertThat(cm.getMetadata().getAnnotations()).containsExactly(Map.entry("pose.io/progress-schema-version", "1"));
    }
  }

  @Nested
  class Rbac {

    @Test
    void roleGrantsOnlyItsOwnProgressConfigMap() {
      Role role = SupportingObjects.role(Fixtures.resolved("mistral-32k.yaml"));
      assertThat(role.getMetadata().getName()).isEqualTo("mistral-7b-32k-stage");
      assertThat(role.getRules()).hasSize(1);
      PolicyRule rule = role.getRules().get(0);
      assertThat(rule.getApiGroups()).containsExactly("");
      assertThat(rule.getResources()).containsExactly("configmaps");
      assertThat(rule.getResourceNames()).containsExactly("mistral-7b-32k-progress");
      assertThat(rule.getVerbs()).containsExactlyInAnyOrder("get", "update", "patch");
      assertThat(rule.getVerbs()).doesNotContain("*", "create", "delete", "list", "watch");
      assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
    }

    @Test
    void roleBindingBindsTheStageAccountToTheRole() {
      Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
      RoleBinding binding = SupportingObjects.roleBinding(r);
      assertThat(binding.getMetadata().getName()).isEqualTo("mistral-7b-64k-stage");
      assertThat(binding.getRoleRef().getApiGroup()).isEqualTo("rbac.authorization.k8s.io");
      assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
      assertThat(binding.getRoleRef().getName()).isEqualTo(SupportingObjects.role(r).getMetadata().getName());
      assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
        assertThat(s.getKind()).isEqualTo("ServiceAccount");
        assertThat(s.getName()).isEqualTo("mistral-7b-64k-stage");
        assertThat(s.getNamespace()).isEqualTo("team-a");
        assertThat(s.getApiGroup()).isNullOrEmpty();
      });
    }

    @Test
    void serviceAccountIsTheOneStagePodsRunAs() {
      Resolved r = Fixtures.resolved("mistral-32k.yaml");
      ServiceAccount sa = SupportingObjects.serviceAccount(r);
      assertThat(sa.getMetadata().getName()).isEqualTo("mistral-7b-32k-stage");
      // the trainer talks to the API server with its token
      assertThat(sa.getAutomountServiceAccountToken()).isTrue();
      for (Stage stage : Stage.values()) {
        assertThat(StageJobs.build(r, stage).getSpec().getTemplate().getSpec().getServiceAccountName())
            .isEqualTo(sa.getMetadata().getName());
      }
    }
  }

  @Nested
  class Rendezvous {

    @Test
    void headlessServiceForTrainingPods() {
      Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
      Service svc = SupportingObjects.rendezvousService(r);
      assertThat(svc.getMetadata().getName()).isEqualTo("mistral-7b-64k-rdzv");
      assertThat(svc.getSpec().getClusterIP()).isEqualTo("None");
      assertThat(svc.getSpec().getPublishNotReadyAddresses()).isTrue();
      assertThat(svc.getSpec().getSelector()).containsOnly(
          Map.entry("pose.io/context-extension", "mistral-7b-64k"), Map.entry("pose.io/stage", "train"));
      assertThat(svc.getSpec().getPorts()).singleElement().satisfies(p -> {
        assertThat(p.getPort()).isEqualTo(29500);
        assertThat(p.getTargetPort()).isEqualTo(new IntOrString(29500));
        assertThat(p.getProtocol()).isEqualTo("TCP");
      });
    }

    @Test
    void selectsTheTrainingPodsOnlyAndIsTheirSubdomain() {
      Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
      Map<String, String> selector = SupportingObjects.rendezvousService(r).getSpec().getSelector();
      for (Stage stage : Stage.values()) {
        Job job = StageJobs.build(r, stage);
        Map<String, String> podLabels = job.getSpec().getTemplate().getMetadata().getLabels();
        boolean selected = podLabels.entrySet().containsAll(selector.entrySet());
        assertThat(selected).as(stage.name()).isEqualTo(stage == Stage.TRAIN);
      }
      Job train = StageJobs.build(r, Stage.TRAIN);
      assertThat(train.getSpec().getTemplate().getSpec().getSubdomain())
          .isEqualTo(SupportingObjects.rendezvousService(r).getMetadata().getName());
    }
  }

  @Nested
  class Workspace {

    @Test
    void singleNodeDefaultsToReadWriteOnce() {
      Resolved r = Fixtures.resolved("mistral-32k.yaml");
      PersistentVolumeClaim pvc = SupportingObjects.workspaceClaim(r);
      assertThat(pvc.getMetadata().getName()).isEqualTo("mistral-7b-32k-workspace");
      assertThat(pvc.getSpec().getAccessModes()).containsExactly("ReadWriteOnce");
      assertThat(pvc.getSpec().getResources().getRequests()).containsOnly(Map.entry("storage", new Quantity("200Gi")));
      assertThat(pvc.getSpec().getStorageClassName()).isNull();
    }

    @Test
    void severalNodesDefaultToReadWriteMany() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().getResources().setNodes(2);
      PersistentVolumeClaim pvc = SupportingObjects.workspaceClaim(Fixtures.resolve(cx));
      assertThat(pvc.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
    }

    @Test
    void accessModesSizeAndClassFromSpec() {
      PersistentVolumeClaim pvc = SupportingObjects.workspaceClaim(Fixtures.resolved("multi-node-kueue.yaml"));
      assertThat(pvc.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
      assertThat(pvc.getSpec().getResources().getRequests()).containsOnly(Map.entry("storage", new Quantity("500Gi")));
      assertThat(pvc.getSpec().getStorageClassName()).isEqualTo("cephfs");
    }

    @Test
    void defaultSizeWhenNotSet() {
      ContextExtension cx = Fixtures.example("llama2-7b-16k.yaml");
      assertThat(cx.getSpec().getStorage()).isNull();
      PersistentVolumeClaim pvc = SupportingObjects.workspaceClaim(Fixtures.resolve(cx));
      assertThat(pvc.getSpec().getResources().getRequests()).containsOnly(Map.entry("storage", new Quantity("200Gi")));
      assertThat(pvc.getSpec().getAccessModes()).containsExactly("ReadWriteOnce");
    }

    @Test
    void stageJobsMountTheClaim() {
      Resolved r = Fixtures.resolved("tiny-local.yaml");
      String claim = SupportingObjects.workspaceClaim(r).getMetadata().getName();
      for (Stage stage : Stage.values()) {
        assertThat(StageJobs.build(r, stage).getSpec().getTemplate().getSpec().getVolumes())
            .filteredOn(v -> v.getPersistentVolumeClaim() != null)
            .extracting(v -> v.getPersistentVolumeClaim().getClaimName()).containsExactly(claim);
      }
    }
  }

  @Nested
  class VolcanoPodGroup {

    @Test
    void minMemberIsTheNumberOfNodes() {
      ContextExtension cx = volcano("multi-node-kueue.yaml", "gpu-queue");
      cx.getSpec().getScheduling().setQueueName(null);
      Resolved r = Fixtures.resolve(cx);
      PodGroup group = SupportingObjects.podGroup(r);
      assertThat(group.getApiVersion()).isEqualTo("scheduling.volcano.sh/v1beta1");
      assertThat(group.getKind()).isEqualTo("PodGroup");
      assertThat(group.getMetadata().getName()).isEqualTo("mistral-7b-64k-train");
      assertThat(group.getSpec().getMinMember()).isEqualTo(2);
      assertThat(group.getSpec().getQueue()).isEqualTo("gpu-queue");
      assertThat(group.getSpec().getPriorityClassName()).isEqualTo("training-high");
      // the training pods name this group
      Job train = StageJobs.build(r, Stage.TRAIN);
      assertThat(train.getSpec().getTemplate().getMetadata().getAnnotations())
          .containsEntry("scheduling.k8s.io/group-name", group.getMetadata().getName());
      assertThat(train.getSpec().getParallelism()).isEqualTo(group.getSpec().getMinMember());
    }

    @Test
    void singleNodeWithoutQueueOrPriority() {
      PodGroup group = SupportingObjects.podGroup(Fixtures.resolve(volcano("mistral-32k.yaml", null)));
      assertThat(group.getSpec().getMinMember()).isEqualTo(1);
      assertThat(group.getSpec().getQueue()).isNull();
      assertThat(group.getSpec().getPriorityClassName()).isNull();
    }
  }

  @Test
  void buildersAreDeterministic() {
    Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
    List<Function<Resolved, HasMetadata>> builders = List.of(SupportingObjects::config, SupportingObjects::progress,
        SupportingObjects::serviceAccount, SupportingObjects::role, SupportingObjects::roleBinding,
        SupportingObjects::rendezvousService, SupportingObjects::workspaceClaim);
    for (Function<Resolved, HasMetadata> b : builders) {
      assertThat(b.apply(r)).isEqualTo(b.apply(r));
    }
  }

  @Test
  void ownerReferenceMatchesTheResource() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    OwnerReference ref = SupportingObjects.serviceAccount(Fixtures.resolve(cx)).getMetadata().getOwnerReferences().get(0);
    assertThat(ref.getBlockOwnerDeletion()).isTrue();
    assertThat(ref.getName()).isEqualTo(cx.getMetadata().getName());
  }
}
