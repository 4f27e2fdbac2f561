package io.pose.operator.build;

import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicy;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyBuilder;
import io.pose.api.contract.TrainerContract;
import io.pose.api.contract.TrainerContract.Env;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.v1alpha1.ImageSettings;
import io.pose.api.v1alpha1.ResourceSettings;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Names;
import io.pose.operator.model.Owners;
import io.pose.operator.model.Resolved;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the Kubernetes Job of each stage: a pure function of the resolved resource, so every detail is
 * unit-tested without a server. Jobs are never updated (a Job's pod template is immutable) except for
 * {@code spec.suspend}.
 */
public final class StageJobs {
  private StageJobs() {}

  public static final String CONTAINER = "trainer";
  private static final String WORKSPACE_VOLUME = "workspace";
  private static final String CONFIG_VOLUME = "config";
  private static final String SHM_VOLUME = "shm";

  /** Retries of the single-pod stages; the trainer retries transient network errors itself. */
  static final int FETCH_BACKOFF_LIMIT = 2;
  static final int EVALUATE_BACKOFF_LIMIT = 1;
  static final int PUBLISH_BACKOFF_LIMIT = 2;

  /** The Job of a stage, created suspended when spec.suspend is set or Kueue admits it. */
  public static Job build(Resolved r, Stage stage) {
    boolean train = stage == Stage.TRAIN;
    int pods = train ? r.spec().getResources().getNodes() : 1;
    Map<String, String> jobLabels = Labels.of(r.resource(), stage);
    if (r.kueue()) {
      jobLabels.put(Labels.KUEUE_QUEUE, r.spec().getScheduling().getQueueName());
    }
    Map<String, String> jobAnnotations = new LinkedHashMap<>();
    if (r.spec().suspended()) {
      jobAnnotations.put(Labels.SUSPENDED_BY_SPEC, "true");
    }
    JobBuilder job = new JobBuilder()
        .withNewMetadata()
          .withName(Names.job(r.resource(), stage))
          .withNamespace(r.namespace())
          .withLabels(jobLabels)
          .withAnnotations(jobAnnotations)
          .withOwnerReferences(Owners.controlledBy(r.resource()))
        .endMetadata()
        .withNewSpec()
          .withSuspend(initiallySuspended(r))
          .withCompletions(pods)
          .withParallelism(pods)
          .withCompletionMode(train ? "Indexed" : "NonIndexed")
          .withBackoffLimit(backoffLimit(r, stage))
          .withPodFailurePolicy(podFailurePolicy())
          .withNewTemplate()
            .withNewMetadata()
              .withLabels(Labels.of(r.resource(), stage))
              .withAnnotations(podAnnotations(r, stage))
            .endMetadata()
            .withSpec(podSpec(r, stage))
          .endTemplate()
        .endSpec();
    return job.build();
  }

  /** Kueue unsuspends a Job when it admits it, so it must be created suspended. */
  public static boolean initiallySuspended(Resolved r) {
    return r.spec().suspended() || r.kueue();
  }

  /**
   * Failed pods the Job tolerates. Training: maxRestarts restarts of the whole group (when one rank dies
   * the others fail too, on their collective timeout), each resuming from the last complete checkpoint.
   */
  static int backoffLimit(Resolved r, Stage stage) {
    return switch (stage) {
      case FETCH -> FETCH_BACKOFF_LIMIT;
      case TRAIN -> r.spec().getTraining().getMaxRestarts() * r.spec().getResources().getNodes();
      case EVALUATE -> EVALUATE_BACKOFF_LIMIT;
      case PUBLISH -> PUBLISH_BACKOFF_LIMIT;
    };
  }

  /**
   * Disruptions (preemption, node drain, eviction) do not count against backoffLimit; the trainer's
   * "cannot succeed on retry" exit codes fail the Job at once.
   */
  static PodFailurePolicy podFailurePolicy() {
    return new PodFailurePolicyBuilder()
        .addNewRule()
          .withAction("FailJob")
          .withNewOnExitCodes()
            .withContainerName(CONTAINER)
            .withOperator("In")
            .withValues(ExitCode.permanentCodes())
          .endOnExitCodes()
        .endRule()
        .addNewRule()
          .withAction("Ignore")
          .addNewOnPodCondition().withType("DisruptionTarget").withStatus("True").endOnPodCondition()
        .endRule()
        .build();
  }

  private static Map<String, String> podAnnotations(Resolved r, Stage stage) {
    Map<String, String> annotations = new LinkedHashMap<>();
    if (r.volcano()) {
      String queue = r.spec().getScheduling().getVolcano().getQueue();
      if (queue != null) {
        annotations.put(Labels.VOLCANO_QUEUE, queue);
      }
      if (stage == Stage.TRAIN) {
        annotations.put(Labels.VOLCANO_GROUP, Names.podGroup(r.resource()));
      }
    }
    return annotations;
  }

  private static io.fabric8.kubernetes.api.model.PodSpec podSpec(Resolved r, Stage stage) {
    ResourceSettings res = r.spec().getResources();
    boolean train = stage == Stage.TRAIN;
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    volumes.add(new VolumeBuilder().withName(WORKSPACE_VOLUME)
        .withNewPersistentVolumeClaim().withClaimName(r.workspaceClaimName()).endPersistentVolumeClaim().build());
    mounts.add(new VolumeMountBuilder().withName(WORKSPACE_VOLUME).withMountPath(TrainerContract.WORKSPACE_DIR).build());
    volumes.add(new VolumeBuilder().withName(CONFIG_VOLUME)
        .withNewConfigMap().withName(Names.configMap(r.resource())).endConfigMap().build());
    mounts.add(new VolumeMountBuilder().withName(CONFIG_VOLUME).withMountPath(TrainerContract.CONFIG_DIR)
        .withReadOnly(true).build());
    if (stage == Stage.TRAIN || stage == Stage.EVALUATE) {
      // NCCL and the data loader use shared memory; the container runtime's default of 64 MiB is far too small
      volumes.add(new VolumeBuilder().withName(SHM_VOLUME).withNewEmptyDir().withMedium("Memory")
          .withSizeLimit(res.getSharedMemorySize() == null ? null : new Quantity(res.getSharedMemorySize()))
          .endEmptyDir().build());
      mounts.add(new VolumeMountBuilder().withName(SHM_VOLUME).withMountPath(TrainerContract.SHM_DIR).build());
    }
    List<Resolved.SecretRef> secrets = r.secrets(stage);
    for (int i = 0; i < secrets.size(); i++) {
      Resolved.SecretRef secret = secrets.get(i);
      // Secret names are DNS subdomains of up to 253 characters, volume names DNS labels: name by position
      String volume = "secret-" + i;
      // 0444: the trainer may run as any non-root user; the files never leave the pod's own filesystem
      volumes.add(new VolumeBuilder().withName(volume).withNewSecret().withSecretName(secret.secretName())
          .withDefaultMode(0444).endSecret().build());
      mounts.add(new VolumeMountBuilder().withName(volume).withMountPath(Names.secretMountPath(secret.secretName()))
          .withReadOnly(true).build());
    }
    List<String> claims = r.claims(stage);
    for (int i = 0; i < claims.size(); i++) {
      // pvc:// sources are read, a pvc:// target is written
      String volume = "pvc-" + i;
      volumes.add(new VolumeBuilder().withName(volume).withNewPersistentVolumeClaim().withClaimName(claims.get(i))
          .withReadOnly(stage != Stage.PUBLISH).endPersistentVolumeClaim().build());
      mounts.add(new VolumeMountBuilder().withName(volume).withMountPath(TrainerContract.PVC_DIR + "/" + claims.get(i))
          .withReadOnly(stage != Stage.PUBLISH).build());
    }

    ContainerBuilder container = new ContainerBuilder()
        .withName(CONTAINER)
        .withImage(r.image())
        .withImagePullPolicy(r.spec().getImage() == null || r.spec().getImage().getPullPolicy() == null ? null
            : r.spec().getImage().getPullPolicy().name())
        .withArgs(TrainerContract.args(stage))
        .withEnv(env(r, stage))
        .withVolumeMounts(mounts)
        .withTerminationMessagePolicy("FallbackToLogsOnError")
        .withNewSecurityContext().withAllowPrivilegeEscalation(false).endSecurityContext();
    if (train) {
      container.withPorts(rendezvousPort(), new ContainerPortBuilder().withName("metrics")
          .withContainerPort(TrainerContract.METRICS_PORT).withProtocol("TCP").build());
    }
    container.withResources(resources(r, stage));

    PodSpecBuilder pod = new PodSpecBuilder()
        .withRestartPolicy("Never") // required by podFailurePolicy; the Job recreates failed pods
        .withServiceAccountName(Names.stageAccount(r.resource()))
        .withContainers(container.build())
        .withVolumes(volumes)
        .withNodeSelector(res.getNodeSelector())
        .withTolerations(res.getTolerations())
        .withAffinity(res.getAffinity())
        .withPriorityClassName(res.getPriorityClassName())
        .withImagePullSecrets(pullSecrets(r.spec().getImage()))
        // the image runs as a non-root user: the volumes it writes (a fresh workspace claim) are made group-writable
        .withNewSecurityContext().withFsGroup(TrainerContract.IMAGE_USER).withFsGroupChangePolicy("OnRootMismatch")
        .endSecurityContext();
    if (train) {
      pod.withSubdomain(Names.rendezvousService(r.resource()));
    }
    if (r.volcano()) {
      pod.withSchedulerName(Labels.VOLCANO_SCHEDULER);
    }
    return pod.build();
  }

  private static List<LocalObjectReference> pullSecrets(ImageSettings image) {
    if (image == null || image.getPullSecrets() == null) {
      return null;
    }
    return image.getPullSecrets().stream().map(LocalObjectReference::new).toList();
  }

  private static ContainerPort rendezvousPort() {
    return new ContainerPortBuilder().withName("rendezvous").withContainerPort(TrainerContract.MASTER_PORT)
        .withProtocol("TCP").build();
  }

  /**
   * GPUs for Train (gpusPerNode) and Evaluate (evaluation.gpus); CPU and memory (spec.resources.cpu and
   * memory, sized for a training node) for Train only.
   */
  private static io.fabric8.kubernetes.api.model.ResourceRequirements resources(Resolved r, Stage stage) {
    ResourceSettings res = r.spec().getResources();
    Map<String, Quantity> limits = new LinkedHashMap<>();
    Map<String, Quantity> requests = new LinkedHashMap<>();
    int gpus = switch (stage) {
      case TRAIN -> res.getGpusPerNode();
      case EVALUATE -> res.getGpusPerNode() == 0 ? 0 : r.spec().getEvaluation().getGpus();
      default -> 0;
    };
    if (gpus > 0) {
      limits.put(res.getGpuResource(), new Quantity(String.valueOf(gpus)));
    }
    if (stage == Stage.TRAIN) {
      if (res.getCpu() != null) {
        requests.put("cpu", new Quantity(res.getCpu()));
        limits.put("cpu", new Quantity(res.getCpu()));
      }
      if (res.getMemory() != null) {
        requests.put("memory", new Quantity(res.getMemory()));
        limits.put("memory", new Quantity(res.getMemory()));
      }
    }
    return new ResourceRequirementsBuilder()
        .withLimits(limits.isEmpty() ? null : limits)
        .withRequests(requests.isEmpty() ? null : requests)
        .build();
  }

  private static List<EnvVar> env(Resolved r, Stage stage) {
    List<EnvVar> env = new ArrayList<>();
    env.add(value(Env.STAGE, stage.command()));
    env.add(value(Env.CONFIG, TrainerContract.CONFIG_PATH));
    env.add(value(Env.WORKSPACE, TrainerContract.WORKSPACE_DIR));
    env.add(value(Env.SECRETS_DIR, TrainerContract.SECRETS_DIR));
    env.add(value(Env.NAMESPACE, r.namespace()));
    env.add(value(Env.NAME, r.name()));
    env.add(value(Env.PROGRESS_CONFIGMAP, Names.progressConfigMap(r.resource())));
    env.add(fieldRef(Env.POD_NAME, "metadata.name"));
    env.add(value(Env.WORKSPACE_URI, "pvc://" + r.workspaceClaimName()));
    if (stage == Stage.TRAIN) {
      ResourceSettings res = r.spec().getResources();
      int nodes = res.getNodes();
      int perNode = Math.max(1, res.getGpusPerNode());
      String master = Names.masterAddress(r.resource());
      String port = String.valueOf(TrainerContract.MASTER_PORT);
      String rankPath = "metadata.annotations['" + Labels.JOB_COMPLETION_INDEX + "']";
      env.add(value(Env.NNODES, String.valueOf(nodes)));
      env.add(fieldRef(Env.NODE_RANK, rankPath));
      env.add(value(Env.GPUS_PER_NODE, String.valueOf(res.getGpusPerNode())));
      env.add(value(Env.MASTER_ADDR, master));
      env.add(value(Env.MASTER_PORT, port));
      env.add(value(Env.TORCH_WORLD_SIZE, String.valueOf(nodes * perNode)));
      env.add(value(Env.TORCH_LOCAL_WORLD_SIZE, String.valueOf(perNode)));
      env.add(fieldRef(Env.TORCH_NODE_RANK, rankPath));
      env.add(value(Env.TORCH_MASTER_ADDR, master));
      env.add(value(Env.TORCH_MASTER_PORT, port));
      env.add(value(Env.PET_NNODES, String.valueOf(nodes)));
      env.add(value(Env.PET_NPROC_PER_NODE, String.valueOf(perNode)));
      env.add(fieldRef(Env.PET_NODE_RANK, rankPath));
      env.add(value(Env.PET_MASTER_ADDR, master));
      env.add(value(Env.PET_MASTER_PORT, port));
      env.add(value(Env.METRICS_PORT, String.valueOf(TrainerContract.METRICS_PORT)));
    }
    return env;
  }

  private static EnvVar value(String name, String value) {
    return new EnvVarBuilder().withName(name).withValue(value).build();
  }

  private static EnvVar fieldRef(String name, String path) {
    return new EnvVarBuilder().withName(name).withNewValueFrom().withNewFieldRef().withFieldPath(path).endFieldRef()
        .endValueFrom().build();
  }
}
