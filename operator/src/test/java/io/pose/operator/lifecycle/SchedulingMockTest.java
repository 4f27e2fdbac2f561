package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.VolcanoSettings;
import io.pose.operator.OperatorHarness;
import io.pose.operator.model.volcano.PodGroup;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Kueue, Volcano and several nodes. */
class SchedulingMockTest extends MockTestBase {

  @Test
  void kueueQueuesEveryStageJobAndTheOperatorLeavesAdmissionToKueue() {
    ContextExtension spec = OperatorHarness.example("multi-node-kueue.yaml");
    String name = applyWithSecrets(spec).getMetadata().getName();
    Job fetch = k8s.awaitJob(name, Stage.FETCH);
    assertThat(fetch.getMetadata().getLabels()).containsEntry("kueue.x-k8s.io/queue-name", "team-a-gpus");
    assertThat(fetch.getSpec().getSuspend()).as("created suspended for Kueue").isTrue();
    ContextExtension cx = k8s.awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchQueued"));
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.Fetching);

    // Kueue admits the workload: it lifts suspend; the operator must not put it back
    client.batch().v1().jobs().inNamespace(NAMESPACE).withName(fetch.getMetadata().getName()).edit(j -> {
      j.getSpec().setSuspend(false);
      return j;
    });
    k8s.jobRunning(name, Stage.FETCH);
    k8s.awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchRunning"));
    Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(k8s.job(name, Stage.FETCH).getSpec().getSuspend()).isFalse();
  }

  @Test
  void severalNodesMakeAnIndexedJobWithRendezvousAndASharedWorkspace() {
    String name = applyWithSecrets(OperatorHarness.example("multi-node-kueue.yaml")).getMetadata().getName();
    k8s.awaitJob(name, Stage.FETCH);
    runUntilTrainingAdmitted(name);
    Job train = k8s.job(name, Stage.TRAIN);
    assertThat(train.getSpec().getCompletionMode()).isEqualTo("Indexed");
    assertThat(train.getSpec().getCompletions()).isEqualTo(2);
    assertThat(train.getSpec().getParallelism()).isEqualTo(2);
    assertThat(train.getSpec().getBackoffLimit()).isEqualTo(10);
    assertThat(train.getSpec().getTemplate().getSpec().getSubdomain()).isEqualTo("mistral-7b-64k-rdzv");
    Map<String, EnvVar> env = train.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
        .collect(Collectors.toMap(EnvVar::getName, e -> e));
    assertThat(env.get("WORLD_SIZE").getValue()).isEqualTo("16");
    assertThat(env.get("MASTER_ADDR").getValue()).isEqualTo("mistral-7b-64k-train-0.mistral-7b-64k-rdzv.test.svc");
    assertThat(env.get("NODE_RANK").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    assertThat(client.persistentVolumeClaims().inNamespace(NAMESPACE).withName("mistral-7b-64k-workspace").get()
        .getSpec().getAccessModes()).containsExactly("ReadWriteMany");
    assertThat(client.services().inNamespace(NAMESPACE).withName("mistral-7b-64k-rdzv").get().getSpec().getClusterIP())
        .isEqualTo("None");
  }

  private void runUntilTrainingAdmitted(String name) {
    k8s.jobSucceeded(name, Stage.FETCH);
    k8s.awaitJob(name, Stage.TRAIN);
  }

  @Test
  void volcanoGetsAPodGroupForTheTrainingGang() {
    client.apiextensions().v1().customResourceDefinitions().resource(new CustomResourceDefinitionBuilder()
        .withNewMetadata().withName("podgroups.scheduling.volcano.sh").endMetadata()
        .withNewSpec().withGroup("scheduling.volcano.sh").withScope("Namespaced")
          .withNewNames().withKind("PodGroup").withPlural("podgroups").withSingular("podgroup").endNames()
          .addNewVersion().withName("v1beta1").withServed(true).withStorage(true).endVersion()
        .endSpec().build()).create();
    ContextExtension spec = OperatorHarness.example("mistral-32k.yaml");
    spec.getSpec().getResources().setNodes(2);
    spec.getSpec().getStorage().getWorkspace().setAccessModes(java.util.List.of(
        io.pose.api.v1alpha1.WorkspaceVolume.AccessMode.ReadWriteMany));
    spec.getSpec().setScheduling(new io.pose.api.v1alpha1.SchedulingSettings());
    spec.getSpec().getScheduling().setVolcano(new VolcanoSettings());
    spec.getSpec().getScheduling().getVolcano().setQueue("research");
    String name = applyWithSecrets(spec).getMetadata().getName();

    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() ->
        client.resources(PodGroup.class).inNamespace(NAMESPACE).withName(name + "-train").get() != null);
    PodGroup group = client.resources(PodGroup.class).inNamespace(NAMESPACE).withName(name + "-train").get();
    assertThat(group.getSpec().getMinMember()).isEqualTo(2);
    assertThat(group.getSpec().getQueue()).isEqualTo("research");
    Job fetch = k8s.awaitJob(name, Stage.FETCH);
    assertThat(fetch.getSpec().getTemplate().getSpec().getSchedulerName()).isEqualTo("volcano");
    k8s.jobSucceeded(name, Stage.FETCH);
    Job train = k8s.awaitJob(name, Stage.TRAIN);
    assertThat(train.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("scheduling.k8s.io/group-name", name + "-train")
        .containsEntry("scheduling.volcano.sh/queue-name", "research");
  }
}
