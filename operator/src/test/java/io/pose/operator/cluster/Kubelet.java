package io.pose.operator.cluster;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Plays the node: there is none in the test control plane, so the Job controller's pods stay Pending until this
 * reports them as a kubelet would, through the pods' status subresource: Running (containers started, Ready),
 * Succeeded (exit 0), Failed (the trainer's exit code and termination message) or evicted (the DisruptionTarget
 * condition a kubelet adds when it terminates a pod under node pressure, exit 137).
 */
public final class Kubelet {

  private static final String JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

  private final KubernetesClient admin;
  private final String namespace;

  public Kubelet(KubernetesClient admin, String namespace) {
    this.admin = admin;
    this.namespace = namespace;
  }

  /** The Job's pods, oldest first. */
  public List<Pod> pods(String jobName) {
    List<Pod> pods = new ArrayList<>(admin.pods().inNamespace(namespace).withLabel(JOB_NAME_LABEL, jobName).list().getItems());
    pods.sort(Comparator.comparing(p -> p.getMetadata().getCreationTimestamp()));
    return pods;
  }

  /** Waits for the Job controller to create a pod that has not terminated, and returns it. */
  public Pod awaitPod(String jobName) {
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> pods(jobName).stream().anyMatch(Kubelet::live));
    return pods(jobName).stream().filter(Kubelet::live).findFirst().orElseThrow();
  }

  private static boolean live(Pod p) {
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    return p.getMetadata().getDeletionTimestamp() == null && !"Succeeded".equals(phase) && !"Failed".equals(phase);
  }

  /** Starts the Job's pod: Running and Ready. */
  public Pod run(String jobName) {
    Pod pod = awaitPod(jobName);
    String now = Instant.now().toString();
    pod.getStatus().setPhase("Running");
    pod.getStatus().setStartTime(now);
    pod.getStatus().setPodIP("10.244.0.10");
    pod.getStatus().setConditions(conditions(pod, "True", now));
    pod.getStatus().setContainerStatuses(containers(pod, c -> c.withReady(true).withStarted(true).withNewState()
        .withNewRunning().withStartedAt(now).endRunning().endState()));
    return admin.pods().inNamespace(namespace).resource(pod).updateStatus();
  }

  /** The Job's running (or pending) pod exits 0. */
  public Pod succeed(String jobName) {
    return terminate(jobName, 0, "", "Completed", null);
  }

  /** The Job's pod exits with this code and termination message (what the trainer writes to /dev/termination-log). */
  public Pod fail(String jobName, int exitCode, String message) {
    return terminate(jobName, exitCode, message, "Error", null);
  }

  /** The node evicts the pod (memory pressure): DisruptionTarget, killed with SIGKILL. */
  public Pod evict(String jobName) {
    return terminate(jobName, 137, "", "Error", new PodConditionBuilder().withType("DisruptionTarget").withStatus("True")
        .withReason("TerminationByKubelet").withMessage("The node was low on resource: memory.")
        .withLastTransitionTime(Instant.now().toString()).build());
  }

  private Pod terminate(String jobName, int exitCode, String message, String reason, PodCondition extra) {
    Pod pod = awaitPod(jobName);
    String now = Instant.now().toString();
    String started = pod.getStatus().getStartTime() == null ? now : pod.getStatus().getStartTime();
    pod.getStatus().setPhase(exitCode == 0 ? "Succeeded" : "Failed");
    pod.getStatus().setStartTime(started);
    List<PodCondition> conditions = conditions(pod, "False", now);
    if (extra != null) {
      conditions.add(extra);
    }
    pod.getStatus().setConditions(conditions);
    pod.getStatus().setContainerStatuses(containers(pod, c -> c.withReady(false).withStarted(false).withNewState()
        .withNewTerminated().withExitCode(exitCode).withReason(reason).withMessage(message.isEmpty() ? null : message)
        .withStartedAt(started).withFinishedAt(now).endTerminated().endState()));
    return admin.pods().inNamespace(namespace).resource(pod).updateStatus();
  }

  private static List<PodCondition> conditions(Pod pod, String ready, String now) {
    List<PodCondition> c = new ArrayList<>();
    c.add(new PodConditionBuilder().withType("PodScheduled").withStatus("True").withLastTransitionTime(now).build());
    c.add(new PodConditionBuilder().withType("Initialized").withStatus("True").withLastTransitionTime(now).build());
    c.add(new PodConditionBuilder().withType("ContainersReady").withStatus(ready).withLastTransitionTime(now).build());
    c.add(new PodConditionBuilder().withType("Ready").withStatus(ready).withLastTransitionTime(now).build());
    return c;
  }

  private static List<ContainerStatus> containers(Pod pod,
      java.util.function.UnaryOperator<ContainerStatusBuilder> state) {
    List<ContainerStatus> out = new ArrayList<>();
    for (var container : pod.getSpec().getContainers()) {
      out.add(state.apply(new ContainerStatusBuilder().withName(container.getName()).withImage(container.getImage())
          .withImageID("docker-pullable://" + container.getImage()).withRestartCount(0)).build());
    }
    return out;
  }
}
