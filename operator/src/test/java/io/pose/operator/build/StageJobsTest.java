package io.pose.operator.build;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyRule;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ImageSettings;
import io.pose.api.v1alpha1.SchedulingSettings;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.VolcanoSettings;
import io.pose.api.v1alpha1.WorkspaceVolume;
import io.pose.operator.Fixtures;
import io.pose.operator.model.Resolved;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class StageJobsTest {

  static final List<String> EXAMPLES = List.of("mistral-32k.yaml", "multi-node-kueue.yaml", "tiny-local.yaml");
  static final String RANK_PATH = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

  static Stream<Arguments> everyExampleAndStage() {
    return EXAMPLES.stream().flatMap(file -> Arrays.stream(Stage.values()).map(stage -> arguments(file, stage)));
  }

  // ---- helpers ----

  static Job build(String file, Stage stage) {
    return StageJobs.build(Fixtures.resolved(file), stage);
  }

  static Job build(ContextExtension cx, Stage stage) {
    return StageJobs.build(Fixtures.resolve(cx), stage);
  }

  static PodSpec pod(Job job) {
    return job.getSpec().getTemplate().getSpec();
  }

  static Container container(Job job) {
    assertThat(pod(job).getContainers()).hasSize(1);
    return pod(job).getContainers().get(0);
  }

  static Map<String, EnvVar> env(Job job) {
    return container(job).getEnv().stream().collect(Collectors.toMap(EnvVar::getName, Function.identity()));
  }

  static String envValue(Job job, String name) {
    EnvVar var = env(job).get(name);
    assertThat(var).as("env %s", name).isNotNull();
    assertThat(var.getValueFrom()).as("env %s is a plain value", name).isNull();
    return var.getValue();
  }

  static String envFieldPath(Job job, String name) {
    EnvVar var = env(job).get(name);
    assertThat(var).as("env %s", name).isNotNull();
    assertThat(var.getValue()).as("env %s is not a plain value", name).isNull();
    return var.getValueFrom().getFieldRef().getFieldPath();
  }

  static Volume volume(Job job, String name) {
    return pod(job).getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name + " in " + pod(job).getVolumes()));
  }

  static VolumeMount mountAt(Job job, String path) {
    return container(job).getVolumeMounts().stream().filter(m -> m.getMountPath().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError("nothing mounted at " + path));
  }

  static List<VolumeMount> secretMounts(Job job) {
    return container(job).getVolumeMounts().stream().filter(m -> m.getMountPath().startsWith("/var/run/secrets/pose/"))
        .toList();
  }

  static Map<String, Quantity> limits(Job job) {
    return container(job).getResources().getLimits();
  }

  static Map<String, Quantity> requests(Job job) {
    return container(job).getResources().getRequests();
  }

  // ---- every stage of every example ----

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void metadataNamesTheResourceAndStage(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    String name = cx.getMetadata().getName();
    Job job = build(cx, stage);

    assertThat(job.getMetadata().getName()).isEqualTo(name + "-" + stage.command());
    assertThat(job.getMetadata().getNamespace()).isEqualTo(cx.getMetadata().getNamespace());
    for (Map<String, String> labels : List.of(job.getMetadata().getLabels(),
        job.getSpec().getTemplate().getMetadata().getLabels())) {
      assertThat(labels)
          .containsEntry("app.kubernetes.io/managed-by", "pose-operator")
          .containsEntry("pose.io/context-extension", name)
          .containsEntry("pose.io/stage", stage.command());
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void controlledByTheResource(String file, Stage stage) {
    Job job = build(file, stage);
    List<OwnerReference> owners = job.getMetadata().getOwnerReferences();
    assertThat(owners).hasSize(1);
    OwnerReference owner = owners.get(0);
    assertThat(owner.getUid()).isEqualTo(Fixtures.UID);
    assertThat(owner.getController()).isTrue();
    assertThat(owner.getBlockOwnerDeletion()).isTrue();
    assertThat(owner.getKind()).isEqualTo("ContextExtension");
    assertThat(owner.getApiVersion()).isEqualTo("pose.io/v1alpha1");
    assertThat(owner.getName()).isEqualTo(Fixtures.example(file).getMetadata().getName());
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void noOwnerReferenceWithoutUid(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    cx.getMetadata().setUid(null);
    assertThat(build(cx, stage).getMetadata().getOwnerReferences()).isEmpty();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void podRunsTheStageCommandOnce(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    String name = cx.getMetadata().getName();
    Job job = build(cx, stage);

    Container c = container(job);
    assertThat(c.getName()).isEqualTo("trainer");
    assertThat(c.getCommand()).as("the image's ENTRYPOINT is pose").isEmpty();
    assertThat(c.getArgs()).containsExactly(stage.command(), "--config", "/etc/pose/config.yaml");
    assertThat(c.getTerminationMessagePolicy()).isEqualTo("FallbackToLogsOnError");
    assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(pod(job).getRestartPolicy()).isEqualTo("Never");
    assertThat(pod(job).getServiceAccountName()).isEqualTo(name + "-stage");
    assertThat(c.getImage()).isEqualTo(Fixtures.SETTINGS.trainerImage());
    assertThat(c.getImagePullPolicy()).isNull();
    assertThat(pod(job).getImagePullSecrets()).isNullOrEmpty();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void commonEnvironment(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    String name = cx.getMetadata().getName();
    Job job = build(cx, stage);

    assertThat(envValue(job, "POSE_STAGE")).isEqualTo(stage.command());
    assertThat(envValue(job, "POSE_CONFIG")).isEqualTo("/etc/pose/config.yaml");
    assertThat(envValue(job, "POSE_WORKSPACE")).isEqualTo("/workspace");
    assertThat(envValue(job, "POSE_SECRETS_DIR")).isEqualTo("/var/run/secrets/pose");
    assertThat(envValue(job, "POSE_NAMESPACE")).isEqualTo(cx.getMetadata().getNamespace());
    assertThat(envValue(job, "POSE_NAME")).isEqualTo(name);
    assertThat(envValue(job, "POSE_PROGRESS_CONFIGMAP")).isEqualTo(name + "-progress");
    assertThat(envFieldPath(job, "POSE_POD_NAME")).isEqualTo("metadata.name");
    assertThat(envValue(job, "POSE_WORKSPACE_URI")).isEqualTo("pvc://" + job.getSpec().getTemplate().getSpec()
        .getVolumes().get(0).getPersistentVolumeClaim().getClaimName());
    assertThat(container(job).getEnv()).extracting(EnvVar::getName).doesNotHaveDuplicates();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void mountsWorkspaceAndConfig(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    String name = cx.getMetadata().getName();
    Job job = build(cx, stage);

    VolumeMount workspace = mountAt(job, "/workspace");
    assertThat(volume(job, workspace.getName()).getPersistentVolumeClaim().getClaimName()).isEqualTo(name + "-workspace");
    assertThat(workspace.getReadOnly()).isNotEqualTo(Boolean.TRUE);

    VolumeMount config = mountAt(job, "/etc/pose");
    assertThat(config.getReadOnly()).isTrue();
    assertThat(volume(job, config.getName()).getConfigMap().getName()).isEqualTo(name + "-config");

    // every mount refers to a volume of the pod, and names are unique
    assertThat(pod(job).getVolumes()).extracting(Volume::getName).doesNotHaveDuplicates();
    assertThat(container(job).getVolumeMounts()).extracting(VolumeMount::getMountPath).doesNotHaveDuplicates();
    assertThat(container(job).getVolumeMounts()).extracting(VolumeMount::getName)
        .allMatch(n -> pod(job).getVolumes().stream().anyMatch(v -> v.getName().equals(n)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void podFailurePolicyFailsOnPermanentExitCodesAndIgnoresDisruptions(String file, Stage stage) {
    List<PodFailurePolicyRule> rules = build(file, stage).getSpec().getPodFailurePolicy().getRules();
    assertThat(rules).hasSize(2);

    PodFailurePolicyRule failJob = rules.get(0);
    assertThat(failJob.getAction()).isEqualTo("FailJob");
    assertThat(failJob.getOnExitCodes().getContainerName()).isEqualTo("trainer");
    assertThat(failJob.getOnExitCodes().getOperator()).isEqualTo("In");
    assertThat(failJob.getOnExitCodes().getValues()).containsExactly(2, 3, 4, 5);
    assertThat(failJob.getOnPodConditions()).isNullOrEmpty();

    PodFailurePolicyRule ignore = rules.get(1);
    assertThat(ignore.getAction()).isEqualTo("Ignore");
    assertThat(ignore.getOnExitCodes()).isNull();
    assertThat(ignore.getOnPodConditions()).singleElement().satisfies(c -> {
      assertThat(c.getType()).isEqualTo("DisruptionTarget");
      assertThat(c.getStatus()).isEqualTo("True");
    });
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void onlyTrainingIsAnIndexedGroupWithRendezvous(String file, Stage stage) {
    ContextExtension cx = Fixtures.example(file);
    Resolved r = Fixtures.resolve(cx);
    Job job = StageJobs.build(r, stage);
    if (stage == Stage.TRAIN) {
      int nodes = r.spec().getResources().getNodes();
      assertThat(job.getSpec().getCompletionMode()).isEqualTo("Indexed");
      assertThat(job.getSpec().getCompletions()).isEqualTo(nodes);
      assertThat(job.getSpec().getParallelism()).isEqualTo(nodes);
      assertThat(pod(job).getSubdomain()).isEqualTo(cx.getMetadata().getName() + "-rdzv");
      assertThat(container(job).getPorts()).extracting(p -> p.getName(), p -> p.getContainerPort(), p -> p.getProtocol())
          .containsExactly(tuple("rendezvous", 29500, "TCP"), tuple("metrics", 9400, "TCP"));
      assertThat(env(job)).containsKeys("WORLD_SIZE", "MASTER_ADDR", "PET_NNODES", "POSE_NODE_RANK");
      assertThat(envValue(job, "POSE_METRICS_PORT")).isEqualTo("9400");
    } else {
      assertThat(job.getSpec().getCompletionMode()).isEqualTo("NonIndexed");
      assertThat(job.getSpec().getCompletions()).isEqualTo(1);
      assertThat(job.getSpec().getParallelism()).isEqualTo(1);
      assertThat(pod(job).getSubdomain()).isNull();
      assertThat(container(job).getPorts()).isNullOrEmpty();
      assertThat(env(job)).doesNotContainKeys("WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
          "NODE_RANK", "PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT",
          "POSE_NNODES", "POSE_NODE_RANK", "POSE_GPUS_PER_NODE", "POSE_MASTER_ADDR", "POSE_MASTER_PORT",
          "POSE_METRICS_PORT");
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void sharedMemoryOnlyForTrainAndEvaluate(String file, Stage stage) {
    Job job = build(file, stage);
    boolean shm = container(job).getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/dev/shm"));
    assertThat(shm).isEqualTo(stage == Stage.TRAIN || stage == Stage.EVALUATE);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyExampleAndStage")
  void schedulingIsNotVolcanoUnlessAsked(String file, Stage stage) {
    Job job = build(file, stage);
    assertThat(pod(job).getSchedulerName()).isNull();
    assertThat(job.getSpec().getTemplate().getMetadata().getAnnotations()).isNullOrEmpty();
  }

  // ---- training ----

  @Nested
  class Training {

    @Test
    void mistralSingleNode() {
      Job job = build("mistral-32k.yaml", Stage.TRAIN);
      assertThat(job.getSpec().getCompletions()).isEqualTo(1);
      assertThat(job.getSpec().getParallelism()).isEqualTo(1);
      assertThat(limits(job)).containsEntry("nvidia.com/gpu", new Quantity("8"));
      assertThat(requests(job)).doesNotContainKey("nvidia.com/gpu");
      assertThat(limits(job)).containsEntry("memory", new Quantity("600Gi"));
      assertThat(requests(job)).containsEntry("memory", new Quantity("600Gi"));
      assertThat(limits(job)).doesNotContainKey("cpu");
      assertThat(requests(job)).doesNotContainKey("cpu");
      // default maxRestarts (3) x 1 node
      assertThat(job.getSpec().getBackoffLimit()).isEqualTo(3);
      assertThat(envValue(job, "WORLD_SIZE")).isEqualTo("8");
      assertThat(envValue(job, "POSE_MASTER_ADDR")).isEqualTo("mistral-7b-32k-train-0.mistral-7b-32k-rdzv.test.svc");
    }

    @Test
    void cpuRequestEqualsLimit() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().getResources().setCpu("32");
      Job job = build(cx, Stage.TRAIN);
      assertThat(requests(job)).containsEntry("cpu", new Quantity("32")).containsEntry("memory", new Quantity("600Gi"));
      assertThat(limits(job)).containsEntry("cpu", new Quantity("32")).containsEntry("memory", new Quantity("600Gi"));
    }

    @Test
    void sharedMemoryIsMemoryBackedWithSizeLimit() {
      Job job = build("mistral-32k.yaml", Stage.TRAIN);
      VolumeMount shm = mountAt(job, "/dev/shm");
      Volume volume = volume(job, shm.getName());
      assertThat(volume.getEmptyDir().getMedium()).isEqualTo("Memory");
      assertThat(volume.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("64Gi"));
    }

    @Test
    void sharedMemoryWithoutSizeLimitWhenNotSet() {
      Job job = build("tiny-local.yaml", Stage.TRAIN);
      Volume volume = volume(job, mountAt(job, "/dev/shm").getName());
      assertThat(volume.getEmptyDir().getMedium()).isEqualTo("Memory");
      assertThat(volume.getEmptyDir().getSizeLimit()).isNull();
    }

    @Test
    void gpuResourceNameFromSpec() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().getResources().setGpuResource("amd.com/gpu");
      cx.getSpec().getResources().setGpusPerNode(4);
      Job job = build(cx, Stage.TRAIN);
      assertThat(limits(job)).containsEntry("amd.com/gpu", new Quantity("4")).doesNotContainKey("nvidia.com/gpu");
      assertThat(envValue(job, "WORLD_SIZE")).isEqualTo("4");
      assertThat(envValue(job, "POSE_GPUS_PER_NODE")).isEqualTo("4");
    }

    @Test
    void kueueMultiNodeRendezvous() {
      Job job = build("multi-node-kueue.yaml", Stage.TRAIN);
      String master = "mistral-7b-64k-train-0.mistral-7b-64k-rdzv.team-a.svc";

      assertThat(job.getSpec().getCompletionMode()).isEqualTo("Indexed");
      assertThat(job.getSpec().getCompletions()).isEqualTo(2);
      assertThat(job.getSpec().getParallelism()).isEqualTo(2);
      assertThat(pod(job).getSubdomain()).isEqualTo("mistral-7b-64k-rdzv");
      assertThat(limits(job)).containsEntry("nvidia.com/gpu", new Quantity("8"));

      assertThat(envValue(job, "POSE_NNODES")).isEqualTo("2");
      assertThat(envValue(job, "POSE_GPUS_PER_NODE")).isEqualTo("8");
      assertThat(envValue(job, "POSE_MASTER_ADDR")).isEqualTo(master);
      assertThat(envValue(job, "POSE_MASTER_PORT")).isEqualTo("29500");
      assertThat(envValue(job, "MASTER_ADDR")).isEqualTo(master);
      assertThat(envValue(job, "MASTER_PORT")).isEqualTo("29500");
      assertThat(envValue(job, "WORLD_SIZE")).isEqualTo("16");
      assertThat(envValue(job, "LOCAL_WORLD_SIZE")).isEqualTo("8");
      assertThat(envValue(job, "PET_NNODES")).isEqualTo("2");
      assertThat(envValue(job, "PET_NPROC_PER_NODE")).isEqualTo("8");
      assertThat(envValue(job, "PET_MASTER_ADDR")).isEqualTo(master);
      assertThat(envValue(job, "PET_MASTER_PORT")).isEqualTo("29500");
      assertThat(envFieldPath(job, "NODE_RANK")).isEqualTo(RANK_PATH);
      assertThat(envFieldPath(job, "PET_NODE_RANK")).isEqualTo(RANK_PATH);
      assertThat(envFieldPath(job, "POSE_NODE_RANK")).isEqualTo(RANK_PATH);
      // RANK is the process rank, set by the launcher: the operator does not pretend to know it
      assertThat(env(job)).doesNotContainKey("RANK");

      // maxRestarts 5 x 2 nodes
      assertThat(job.getSpec().getBackoffLimit()).isEqualTo(10);
    }

    @Test
    void tinyLocalRequestsNoGpu() {
      Job job = build("tiny-local.yaml", Stage.TRAIN);
      assertThat(container(job).getResources().getLimits()).isNullOrEmpty();
      assertThat(container(job).getResources().getRequests()).isNullOrEmpty();
      assertThat(envValue(job, "POSE_GPUS_PER_NODE")).isEqualTo("0");
      assertThat(envValue(job, "WORLD_SIZE")).isEqualTo("1");
      assertThat(envValue(job, "LOCAL_WORLD_SIZE")).isEqualTo("1");
      assertThat(envValue(job, "PET_NPROC_PER_NODE")).isEqualTo("1");
      assertThat(envValue(job, "POSE_NNODES")).isEqualTo("1");
      assertThat(envValue(job, "POSE_MASTER_ADDR")).isEqualTo("tiny-local-train-0.tiny-local-rdzv.test.svc");
    }
  }

  // ---- the other stages ----

  @Nested
  class OtherStages {

    @ParameterizedTest
    @EnumSource(value = Stage.class, names = {"FETCH", "EVALUATE", "PUBLISH"})
    void fixedBackoffLimits(Stage stage) {
      int expected = switch (stage) {
        case FETCH, PUBLISH -> 2;
        case EVALUATE -> 1;
        default -> throw new IllegalArgumentException();
      };
      for (String file : EXAMPLES) {
        assertThat(build(file, stage).getSpec().getBackoffLimit()).as(file).isEqualTo(expected);
      }
    }

    @Test
    void fetchAndPublishRequestNoResources() {
      for (String file : EXAMPLES) {
        for (Stage stage : List.of(Stage.FETCH, Stage.PUBLISH)) {
          Job job = build(file, stage);
          assertThat(container(job).getResources().getLimits()).as("%s %s", file, stage).isNullOrEmpty();
          assertThat(container(job).getResources().getRequests()).as("%s %s", file, stage).isNullOrEmpty();
        }
      }
    }

    @Test
    void evaluationGetsOneGpuByDefault() {
      Job job = build("mistral-32k.yaml", Stage.EVALUATE);
      assertThat(limits(job)).containsEntry("nvidia.com/gpu", new Quantity("1"));
      assertThat(job.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getRequests()).isNull();
    }

    @Test
    void evaluationGpusFromSpec() {
      ContextExtension cx = Fixtures.example("multi-node-kueue.yaml");
      cx.getSpec().getEvaluation().setGpus(4);
      cx.getSpec().getResources().setGpuResource("example.com/accelerator");
      Job job = build(cx, Stage.EVALUATE);
      assertThat(limits(job)).containsEntry("example.com/accelerator", new Quantity("4"));
    }

    @Test
    void tinyLocalEvaluationRequestsNoGpu() {
      Job job = build("tiny-local.yaml", Stage.EVALUATE);
      assertThat(container(job).getResources().getLimits()).isNullOrEmpty();
    }
  }

  // ---- suspension and gang scheduling ----

  @Nested
  class Scheduling {

    @ParameterizedTest
    @EnumSource(Stage.class)
    void kueueLabelAndCreatedSuspended(Stage stage) {
      Job job = build("multi-node-kueue.yaml", stage);
      assertThat(job.getMetadata().getLabels()).containsEntry("kueue.x-k8s.io/queue-name", "team-a-gpus");
      assertThat(job.getSpec().getSuspend()).isTrue();
      // suspended for Kueue, not by the user
      assertThat(job.getMetadata().getAnnotations()).doesNotContainKey("pose.io/suspended-by-spec");
      assertThat(StageJobs.initiallySuspended(Fixtures.resolved("multi-node-kueue.yaml"))).isTrue();
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void withoutKueueNotSuspended(Stage stage) {
      Job job = build("mistral-32k.yaml", stage);
      assertThat(job.getMetadata().getLabels()).doesNotContainKey("kueue.x-k8s.io/queue-name");
      assertThat(job.getSpec().getSuspend()).isFalse();
      assertThat(job.getMetadata().getAnnotations()).doesNotContainKey("pose.io/suspended-by-spec");
      assertThat(StageJobs.initiallySuspended(Fixtures.resolved("mistral-32k.yaml"))).isFalse();
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void specSuspendCreatesSuspendedAndSaysSo(Stage stage) {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().setSuspend(true);
      Job job = build(cx, stage);
      assertThat(job.getSpec().getSuspend()).isTrue();
      assertThat(job.getMetadata().getAnnotations()).containsEntry("pose.io/suspended-by-spec", "true");
      assertThat(StageJobs.initiallySuspended(Fixtures.resolve(cx))).isTrue();
    }

    @Test
    void specSuspendFalseIsNotSuspended() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().setSuspend(false);
      Job job = build(cx, Stage.TRAIN);
      assertThat(job.getSpec().getSuspend()).isFalse();
      assertThat(job.getMetadata().getAnnotations()).doesNotContainKey("pose.io/suspended-by-spec");
    }

    @Test
    void specSuspendWithKueue() {
      ContextExtension cx = Fixtures.example("multi-node-kueue.yaml");
      cx.getSpec().setSuspend(true);
      Job job = build(cx, Stage.FETCH);
      assertThat(job.getSpec().getSuspend()).isTrue();
      assertThat(job.getMetadata().getAnnotations()).containsEntry("pose.io/suspended-by-spec", "true");
      assertThat(job.getMetadata().getLabels()).containsEntry("kueue.x-k8s.io/queue-name", "team-a-gpus");
    }

    ContextExtension volcano(String queue) {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      SchedulingSettings scheduling = new SchedulingSettings();
      VolcanoSettings volcano = new VolcanoSettings();
      volcano.setQueue(queue);
      scheduling.setVolcano(volcano);
      cx.getSpec().setScheduling(scheduling);
      return cx;
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void volcanoSchedulerQueueAndGroup(Stage stage) {
      Job job = build(volcano("q"), stage);
      assertThat(pod(job).getSchedulerName()).isEqualTo("volcano");
      Map<String, String> annotations = job.getSpec().getTemplate().getMetadata().getAnnotations();
      assertThat(annotations).containsEntry("scheduling.volcano.sh/queue-name", "q");
      if (stage == Stage.TRAIN) {
        assertThat(annotations).containsEntry("scheduling.k8s.io/group-name", "mistral-7b-32k-train");
      } else {
        assertThat(annotations).doesNotContainKey("scheduling.k8s.io/group-name");
      }
      // Volcano is not Kueue: created running
      assertThat(job.getSpec().getSuspend()).isFalse();
      assertThat(job.getMetadata().getLabels()).doesNotContainKey("kueue.x-k8s.io/queue-name");
    }

    @Test
    void volcanoWithoutQueueHasNoQueueAnnotation() {
      Job job = build(volcano(null), Stage.TRAIN);
      Map<String, String> annotations = job.getSpec().getTemplate().getMetadata().getAnnotations();
      assertThat(annotations).doesNotContainKey("scheduling.volcano.sh/queue-name")
          .containsEntry("scheduling.k8s.io/group-name", "mistral-7b-32k-train");
      assertThat(pod(job).getSchedulerName()).isEqualTo("volcano");
    }
  }

  // ---- secrets ----

  @Nested
  class Secrets {

    @Test
    void fetchMountsSourceCredentialsReadOnly() {
      Job job = build("mistral-32k.yaml", Stage.FETCH);
      List<VolumeMount> mounts = secretMounts(job);
      assertThat(mounts).extracting(VolumeMount::getMountPath)
          .containsExactlyInAnyOrder("/var/run/secrets/pose/hf-token", "/var/run/secrets/pose/corpus-s3");
      assertThat(mounts).allSatisfy(m -> assertThat(m.getReadOnly()).isTrue());
      for (VolumeMount m : mounts) {
        String secret = m.getMountPath().substring("/var/run/secrets/pose/".length());
        assertThat(volume(job, m.getName()).getSecret().getSecretName()).isEqualTo(secret);
      }
      // the publish credentials never reach Fetch
      assertThat(pod(job).getVolumes()).noneMatch(v -> v.getSecret() != null
          && "hf-write-token".equals(v.getSecret().getSecretName()));
    }

    @Test
    void fetchMountsEachSecretOnceEvenWhenNamedSeveralTimes() {
      // llama2: hf-token names the model, training data and perplexity data credentials
      Job job = build("llama2-7b-16k.yaml", Stage.FETCH);
      assertThat(secretMounts(job)).extracting(VolumeMount::getMountPath)
          .containsExactly("/var/run/secrets/pose/hf-token");
      assertThat(pod(job).getVolumes().stream().filter(v -> v.getSecret() != null)).hasSize(1);

      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().getTraining().getData().setCredentialsSecret("hf-token");
      Job same = build(cx, Stage.FETCH);
      assertThat(secretMounts(same)).extracting(VolumeMount::getMountPath)
          .containsExactly("/var/run/secrets/pose/hf-token");
    }

    @Test
    void publishMountsOnlyThePublishSecret() {
      Job job = build("mistral-32k.yaml", Stage.PUBLISH);
      assertThat(secretMounts(job)).singleElement().satisfies(m -> {
        assertThat(m.getMountPath()).isEqualTo("/var/run/secrets/pose/hf-write-token");
        assertThat(m.getReadOnly()).isTrue();
        assertThat(volume(job, m.getName()).getSecret().getSecretName()).isEqualTo("hf-write-token");
      });
      assertThat(pod(job).getVolumes().stream().filter(v -> v.getSecret() != null)).hasSize(1);
    }

    @ParameterizedTest
    @EnumSource(value = Stage.class, names = {"TRAIN", "EVALUATE"})
    void trainAndEvaluateMountNoSecret(Stage stage) {
      for (String file : List.of("mistral-32k.yaml", "multi-node-kueue.yaml", "llama2-7b-16k.yaml")) {
        Job job = build(file, stage);
        assertThat(secretMounts(job)).as(file).isEmpty();
        assertThat(pod(job).getVolumes()).as(file).allMatch(v -> v.getSecret() == null);
      }
    }

    @Test
    void otherClaimsNamedByPvcUrisAreMountedUnderMntPvc() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      cx.getSpec().getModel().setSource("pvc://models/mistral-7b");
      cx.getSpec().getModel().setCredentialsSecret(null);
      cx.getSpec().getTraining().getData().setSource("pvc://corpora/pile-long.jsonl");
      cx.getSpec().getPublish().setTarget("pvc://published/mistral-32k");
      cx.getSpec().getPublish().setCredentialsSecret(null);
      Job fetch = build(cx, Stage.FETCH);
      List<VolumeMount> reads = pod(fetch).getContainers().get(0).getVolumeMounts().stream()
          .filter(m -> m.getMountPath().startsWith("/mnt/pvc/")).toList();
      assertThat(reads).extracting(VolumeMount::getMountPath).containsExactly("/mnt/pvc/models", "/mnt/pvc/corpora");
      assertThat(reads).allSatisfy(m -> {
        assertThat(m.getReadOnly()).isTrue();
        assertThat(volume(fetch, m.getName()).getPersistentVolumeClaim().getClaimName())
            .isEqualTo(m.getMountPath().substring("/mnt/pvc/".length()));
        assertThat(volume(fetch, m.getName()).getPersistentVolumeClaim().getReadOnly()).isTrue();
      });
      Job publish = build(cx, Stage.PUBLISH);
      VolumeMount write = pod(publish).getContainers().get(0).getVolumeMounts().stream()
          .filter(m -> m.getMountPath().startsWith("/mnt/pvc/")).findFirst().orElseThrow();
      assertThat(write.getMountPath()).isEqualTo("/mnt/pvc/published");
      assertThat(write.getReadOnly()).isFalse();
      // the workspace's own claim is the workspace mount, not a second one
      cx.getSpec().getPublish().setTarget("pvc://" + Fixtures.resolve(cx).workspaceClaimName() + "/published");
      assertThat(pod(build(cx, Stage.PUBLISH)).getVolumes()).noneMatch(v -> v.getName().startsWith("pvc-"));
      for (Stage stage : List.of(Stage.TRAIN, Stage.EVALUATE)) {
        assertThat(pod(build(cx, stage)).getVolumes()).noneMatch(v -> v.getName().startsWith("pvc-"));
      }
    }

    @Test
    void noSecretsNoSecretVolumes() {
      for (Stage stage : Stage.values()) {
        Job job = build("tiny-local.yaml", stage);
        assertThat(pod(job).getVolumes()).as(stage.name()).allMatch(v -> v.getSecret() == null);
      }
    }
  }

  // ---- workspace, image, placement ----

  @Nested
  class PodSettings {

    @ParameterizedTest
    @EnumSource(Stage.class)
    void existingClaimReplacesTheOperatorsClaim(Stage stage) {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      WorkspaceVolume w = new WorkspaceVolume();
      w.setExistingClaim("shared-models");
      cx.getSpec().getStorage().setWorkspace(w);
      Job job = build(cx, stage);
      assertThat(volume(job, mountAt(job, "/workspace").getName()).getPersistentVolumeClaim().getClaimName())
          .isEqualTo("shared-models");
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void imageFromSpec(Stage stage) {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      ImageSettings image = new ImageSettings();
      image.setName("registry.example.com/pose-trainer:dev");
      image.setPullPolicy(ImageSettings.PullPolicy.Always);
      image.setPullSecrets(List.of("regcred", "mirror"));
      cx.getSpec().setImage(image);
      Job job = build(cx, stage);
      assertThat(container(job).getImage()).isEqualTo("registry.example.com/pose-trainer:dev");
      assertThat(container(job).getImagePullPolicy()).isEqualTo("Always");
      assertThat(pod(job).getImagePullSecrets()).extracting(LocalObjectReference::getName)
          .containsExactly("regcred", "mirror");
    }

    @Test
    void imageSettingsWithoutNameKeepTheOperatorsImage() {
      ContextExtension cx = Fixtures.example("mistral-32k.yaml");
      ImageSettings image = new ImageSettings();
      image.setPullPolicy(ImageSettings.PullPolicy.IfNotPresent);
      cx.getSpec().setImage(image);
      Job job = build(cx, Stage.FETCH);
      assertThat(container(job).getImage()).isEqualTo(Fixtures.SETTINGS.trainerImage());
      assertThat(container(job).getImagePullPolicy()).isEqualTo("IfNotPresent");
      assertThat(pod(job).getImagePullSecrets()).isNullOrEmpty();
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void placementCopiedToEveryStage(Stage stage) {
      ContextExtension cx = Fixtures.example("multi-node-kueue.yaml");
      cx.getSpec().getResources().setNodeSelector(Map.of("node.kubernetes.io/instance-type", "p5.48xlarge"));
      cx.getSpec().getResources().setAffinity(new AffinityBuilder().withNewNodeAffinity()
          .withNewRequiredDuringSchedulingIgnoredDuringExecution().addNewNodeSelectorTerm().addNewMatchExpression()
          .withKey("gpu").withOperator("In").withValues("h100").endMatchExpression().endNodeSelectorTerm()
          .endRequiredDuringSchedulingIgnoredDuringExecution().endNodeAffinity().build());
      Job job = build(cx, stage);
      Toleration expected = new TolerationBuilder().withKey("nvidia.com/gpu").withOperator("Exists")
          .withEffect("NoSchedule").build();
      assertThat(pod(job).getTolerations()).containsExactly(expected);
      assertThat(pod(job).getNodeSelector()).containsExactly(Map.entry("node.kubernetes.io/instance-type", "p5.48xlarge"));
      assertThat(pod(job).getAffinity()).isEqualTo(cx.getSpec().getResources().getAffinity());
      assertThat(pod(job).getPriorityClassName()).isEqualTo("training-high");
    }

    @Test
    void noPlacementWhenNotSet() {
      Job job = build("mistral-32k.yaml", Stage.TRAIN);
      assertThat(pod(job).getTolerations()).isNullOrEmpty();
      assertThat(pod(job).getNodeSelector()).isNullOrEmpty();
      assertThat(pod(job).getAffinity()).isNull();
      assertThat(pod(job).getPriorityClassName()).isNull();
    }
  }

  @Test
  void buildIsDeterministic() {
    Resolved r = Fixtures.resolved("multi-node-kueue.yaml");
    for (Stage stage : Stage.values()) {
      assertThat(StageJobs.build(r, stage)).isEqualTo(StageJobs.build(r, stage));
    }
  }

  @Test
  void buildDoesNotChangeTheResource() {
    ContextExtension cx = Fixtures.example("mistral-32k.yaml");
    String before = io.pose.api.SpecIO.toYaml(cx);
    Resolved r = Fixtures.resolve(cx);
    for (Stage stage : Stage.values()) {
      StageJobs.build(r, stage);
    }
    assertThat(io.pose.api.SpecIO.toYaml(cx)).isEqualTo(before);
  }
}
