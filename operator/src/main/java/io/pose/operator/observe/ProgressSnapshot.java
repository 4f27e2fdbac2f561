package io.pose.operator.observe;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.Stage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The stage reports found in the progress ConfigMap, and what could not be read. */
public record ProgressSnapshot(Optional<FetchReport> fetch, Optional<TrainReport> train,
    Optional<EvaluationResults> evaluation, Optional<PublishReport> publish, List<String> problems) {

  public static ProgressSnapshot empty() {
    return new ProgressSnapshot(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), List.of());
  }

  /** The same reports without those of this stage and the later ones (a retry starts them again). */
  public ProgressSnapshot without(Stage from) {
    return new ProgressSnapshot(from.compareTo(Stage.FETCH) <= 0 ? Optional.empty() : fetch,
        from.compareTo(Stage.TRAIN) <= 0 ? Optional.empty() : train,
        from.compareTo(Stage.EVALUATE) <= 0 ? Optional.empty() : evaluation, Optional.empty(), problems);
  }

  /** Reads every stage's document; a malformed one is reported, never thrown, and the others still count. */
  public static ProgressSnapshot read(ConfigMap configMap) {
    if (configMap == null) {
      return empty();
    }
    Map<String, String> data = configMap.getData();
    List<String> problems = new ArrayList<>();
    return new ProgressSnapshot(
        read(data, Stage.FETCH, FetchReport.class, problems),
        read(data, Stage.TRAIN, TrainReport.class, problems),
        read(data, Stage.EVALUATE, EvaluationResults.class, problems),
        read(data, Stage.PUBLISH, PublishReport.class, problems),
        List.copyOf(problems));
  }

  private static <T> Optional<T> read(Map<String, String> data, Stage stage, Class<T> type, List<String> problems) {
    try {
      return ProgressProtocol.read(data, stage, type);
    } catch (ProgressProtocol.MalformedProgressException e) {
      problems.add(e.getMessage());
      return Optional.empty();
    }
  }
}
