package io.pose.operator.observe;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.pose.operator.observe.FailureDetails.Failure;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FailureDetailsTest {

  static ContainerStatus terminated(String container, int exitCode, String message, String reason, String finishedAt) {
    return new ContainerStatusBuilder().withName(container).withNewState().withNewTerminated()
        .withExitCode(exitCode).withMessage(message).withReason(reason).withFinishedAt(finishedAt)
        .endTerminated().endState().build();
  }

  static Pod pod(String name, ContainerStatus... statuses) {
    return new PodBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewStatus().withPhase("Failed").withContainerStatuses(statuses).endStatus().build();
  }

  static Pod trainerPod(String name, int exitCode, String message, String finishedAt) {
    return pod(name, terminated("trainer", exitCode, message, "Error", finishedAt));
  }

  @Test
  void invalidConfiguration() {
    Optional<Failure> f = FailureDetails.of(List.of(trainerPod("p", 2,
        "spec.pose.trainingWindow: must not exceed the original context length", "2026-11-25T20:00:00Z")));
    assertThat(f).hasValueSatisfying(failure -> {
      assertThat(failure.exitCode()).isEqualTo(2);
      assertThat(failure.reason()).isEqualTo("InvalidConfiguration");
      assertThat(failure.message()).isEqualTo(
          "exit code 2 (InvalidConfiguration): spec.pose.trainingWindow: must not exceed the original context length");
    });
  }

  @ParameterizedTest
  @CsvSource({
      "1, RuntimeFailure",
      "2, InvalidConfiguration",
      "3, MissingInput",
      "4, CredentialsRejected",
      "5, QualityGateFailed",
      "137, Killed",
      "42, RuntimeFailure",
      "143, RuntimeFailure",
      "-1, RuntimeFailure",
  })
  void reasonFromExitCode(int exitCode, String reason) {
    Failure f = FailureDetails.of(List.of(trainerPod("p", exitCode, "boom", "2026-11-25T20:00:00Z"))).orElseThrow();
    assertThat(f.exitCode()).isEqualTo(exitCode);
    assertThat(f.reason()).isEqualTo(reason);
    assertThat(f.message()).isEqualTo("exit code " + exitCode + " (" + reason + "): boom");
  }

  @Test
  void keepsTheLastThreeNonEmptyLines() {
    String log = "Traceback (most recent call last):\n  File \"train.py\", line 1\n\n   step 420   \n"
        + "  \n torch.distributed.DistBackendError: NCCL timeout\n\nRuntimeError: rank 3 lost\n\n";
    Failure f = FailureDetails.of(List.of(trainerPod("p", 1, log, "2026-11-25T20:00:00Z"))).orElseThrow();
    assertThat(f.message()).isEqualTo(
        "exit code 1 (RuntimeFailure): step 420 | torch.distributed.DistBackendError: NCCL timeout | RuntimeError: rank 3 lost");
  }

  @Test
  void fewerThanThreeLinesAreAllKept() {
    Failure f = FailureDetails.of(List.of(trainerPod("p", 3, "\nmodel not found\r\nhf://org/missing\n",
        "2026-11-25T20:00:00Z"))).orElseThrow();
    assertThat(f.reason()).isEqualTo("MissingInput");
    assertThat(f.message()).isEqualTo("exit code 3 (MissingInput): model not found | hf://org/missing");
  }

  @Test
  void killedWithoutMessageUsesTheTerminationReason() {
    Pod pod = pod("p", terminated("trainer", 137, null, "OOMKilled", "2026-11-25T20:00:00Z"));
    Failure f = FailureDetails.of(List.of(pod)).orElseThrow();
    assertThat(f.reason()).isEqualTo("Killed");
    assertThat(f.message()).isEqualTo("exit code 137 (Killed): OOMKilled");
  }

  @Test
  void blankMessageUsesTheTerminationReason() {
    Pod pod = pod("p", terminated("trainer", 4, " \n ", "Error", "2026-11-25T20:00:00Z"));
    assertThat(FailureDetails.of(List.of(pod)).orElseThrow().message())
        .isEqualTo("exit code 4 (CredentialsRejected): Error");
  }

  @Test
  void neitherMessageNorReason() {
    Pod pod = pod("p", terminated("trainer", 137, null, null, "2026-11-25T20:00:00Z"));
    assertThat(FailureDetails.of(List.of(pod)).orElseThrow().message()).isEqualTo("exit code 137 (Killed)");
  }

  @Test
  void picksTheLatestFailedPod() {
    List<Pod> pods = List.of(
        trainerPod("first", 1, "NCCL timeout", "2026-11-25T20:00:00Z"),
        trainerPod("latest", 3, "checkpoint step-400 is corrupt", "2026-11-25T20:45:10Z"),
        trainerPod("second", 1, "connection reset", "2026-11-25T20:30:00Z"));
    Failure f = FailureDetails.of(pods).orElseThrow();
    assertThat(f.exitCode()).isEqualTo(3);
    assertThat(f.message()).isEqualTo("exit code 3 (MissingInput): checkpoint step-400 is corrupt");
  }

  @Test
  void podsWithoutFinishTimeLoseToTimedOnes() {
    List<Pod> pods = List.of(
        trainerPod("timed", 2, "bad config", "2026-11-25T20:00:00Z"),
        trainerPod("untimed", 1, "crash", null));
    assertThat(FailureDetails.of(pods).orElseThrow().reason()).isEqualTo("InvalidConfiguration");
  }

  @Test
  void onlyTheTrainerContainerCounts() {
    Pod pod = pod("p",
        terminated("istio-proxy", 1, "sidecar died", "Error", "2026-11-25T20:10:00Z"),
        terminated("trainer", 5, "passkey accuracy 0.62 < 0.9", "Error", "2026-11-25T20:00:00Z"));
    Failure f = FailureDetails.of(List.of(pod)).orElseThrow();
    assertThat(f.reason()).isEqualTo("QualityGateFailed");
    assertThat(f.message()).isEqualTo("exit code 5 (QualityGateFailed): passkey accuracy 0.62 < 0.9");

    Pod sidecarOnly = pod("q", terminated("istio-proxy", 1, "sidecar died", "Error", "2026-11-25T20:10:00Z"));
    assertThat(FailureDetails.of(List.of(sidecarOnly))).isEmpty();
  }

  @Test
  void successfulPodsAreIgnored() {
    List<Pod> pods = List.of(
        trainerPod("ok", 0, "done", "2026-11-25T21:00:00Z"),
        trainerPod("failed", 1, "crash", "2026-11-25T20:00:00Z"));
    assertThat(FailureDetails.of(pods).orElseThrow().message()).isEqualTo("exit code 1 (RuntimeFailure): crash");
    assertThat(FailureDetails.of(List.of(trainerPod("ok", 0, "done", "2026-11-25T21:00:00Z")))).isEmpty();
  }

  @Test
  void podsWithoutTerminatedStateAreEmpty() {
    Pod running = new PodBuilder().withNewMetadata().withName("running").endMetadata().withNewStatus().withPhase("Running")
        .addNewContainerStatus().withName("trainer").withNewState().withNewRunning().withStartedAt("2026-11-25T20:00:00Z")
        .endRunning().endState().endContainerStatus().endStatus().build();
    Pod waiting = new PodBuilder().withNewMetadata().withName("waiting").endMetadata().withNewStatus().withPhase("Pending")
        .addNewContainerStatus().withName("trainer").withNewState().withNewWaiting().withReason("ImagePullBackOff")
        .endWaiting().endState().endContainerStatus().endStatus().build();
    Pod noStatuses = new PodBuilder().withNewMetadata().withName("new").endMetadata().withNewStatus().withPhase("Pending")
        .endStatus().build();
    Pod noStatus = new PodBuilder().withNewMetadata().withName("bare").endMetadata().build();
    Pod noState = new PodBuilder().withNewMetadata().withName("nostate").endMetadata().withNewStatus()
        .addNewContainerStatus().withName("trainer").endContainerStatus().endStatus().build();

    assertThat(FailureDetails.of(List.of(running, waiting, noStatuses, noStatus, noState))).isEmpty();
    assertThat(FailureDetails.of(List.of())).isEmpty();
  }
}
