package io.pose.operator.observe;

import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.operator.build.StageJobs;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** Turns a failed stage pod's termination state into a one-line explanation and a condition reason. */
public final class FailureDetails {
  private FailureDetails() {}

  /** How a stage failed: the trainer's exit code (if any) and what it printed last. */
  public record Failure(Integer exitCode, String reason, String message) {}

  /** The last failed pod's trainer container, explained. Empty if no pod terminated with a failure. */
  public static Optional<Failure> of(List<Pod> pods) {
    return pods.stream()
        .map(FailureDetails::terminated)
        .flatMap(Optional::stream)
        .filter(t -> t.getExitCode() != null && t.getExitCode() != 0)
        .max(Comparator.comparing(t -> t.getFinishedAt() == null ? "" : t.getFinishedAt()))
        .map(t -> {
          Optional<ExitCode> code = ExitCode.of(t.getExitCode());
          String reason = code.map(ExitCode::reason)
              .orElse(t.getExitCode() == 137 ? "Killed" : "RuntimeFailure");
          String text = t.getMessage() != null && !t.getMessage().isBlank() ? lastLines(t.getMessage(), 3)
              : t.getReason();
          return new Failure(t.getExitCode(), reason, "exit code " + t.getExitCode() + " (" + reason + ")"
              + (text == null ? "" : ": " + text));
        });
  }

  private static Optional<ContainerStateTerminated> terminated(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getContainerStatuses().stream()
        .filter(c -> StageJobs.CONTAINER.equals(c.getName()))
        .map(ContainerStatus::getState)
        .filter(s -> s != null && s.getTerminated() != null)
        .map(s -> s.getTerminated())
        .findFirst();
  }

  private static String lastLines(String text, int n) {
    List<String> lines = text.strip().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
  }
}
