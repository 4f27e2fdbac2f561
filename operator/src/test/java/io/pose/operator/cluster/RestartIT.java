package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What real clusters do to an operator: it is killed (SIGKILL) at every stage while the world moves on without it,
 * and the API server restarts under it (its watches break, and resume from a resource version the new server may
 * no longer hold: 410 Gone). Each time, nothing is duplicated and nothing is lost.
 */
class RestartIT extends ClusterTestBase {

  @Test
  void killedAtEveryStageTheOperatorPicksUpWhereItWas() throws Exception {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "killed";
    ContextExtension created = apply(example("mistral-32k.yaml", name));
    Map<Stage, String> jobUids = new HashMap<>();

    // Fetch: killed after creating the Job; the pod starts, reports and succeeds while the operator is down
    jobUids.put(Stage.FETCH, awaitJob(name, Stage.FETCH).getMetadata().getUid());
    awaitPhase(name, Phase.Fetching);
    operator.kill();
    kubelet.run(jobName(name, Stage.FETCH));
    report(name, Stage.FETCH, fetched(8192));
    kubelet.succeed(jobName(name, Stage.FETCH));
    operator.start();

    // Train: created by the restarted operator; killed while the trainer reports progress
    jobUids.put(Stage.TRAIN, awaitJob(name, Stage.TRAIN).getMetadata().getUid());
    ContextExtension cx = awaitPhase(name, Phase.Training);
    assertThat(cx.getStatus().getModel().getOriginalContextLength()).as("the report made while it was down").isEqualTo(8192);
    kubelet.run(jobName(name, Stage.TRAIN));
    awaitStatus(name, c -> condition(c, "Progressing", "True", "TrainRunning"));
    operator.kill();
    TrainReport progress = new TrainReport();
    progress.setStep(700);
    progress.setTotalSteps(1000);
    progress.setLoss(1.9);
    progress.setLastCheckpointStep(600);
    report(name, Stage.TRAIN, progress);
    operator.start();
    cx = awaitStatus(name, c -> c.getStatus().getTraining() != null && Integer.valueOf(700).equals(c.getStatus().getTraining().getStep()));
    assertThat(cx.getStatus().getTraining().getLastCheckpointStep()).isEqualTo(600);
    assertThat(job(name, Stage.TRAIN).getMetadata().getUid()).as("the running Job is kept").isEqualTo(jobUids.get(Stage.TRAIN));

    // killed at the moment the stage ends: the next Job is created exactly once
    progress.setStep(1000);
    progress.setModelUri("pvc://killed-workspace/output/model");
    report(name, Stage.TRAIN, progress);
    operator.kill();
    kubelet.succeed(jobName(name, Stage.TRAIN));
    operator.start();
    jobUids.put(Stage.EVALUATE, awaitJob(name, Stage.EVALUATE).getMetadata().getUid());
    awaitPhase(name, Phase.Evaluating);

    // Evaluate: killed twice in a row, once before it even became ready
    kubelet.run(jobName(name, Stage.EVALUATE));
    operator.kill();
    operator.start();
    operator.kill();
    EvaluationResults results = new EvaluationResults();
    results.getPasskey().add(new EvaluationResults.PasskeyResult(32768, 50, 0.96, 0.0));
    results.setCompleted(true);
    report(name, Stage.EVALUATE, results);
    kubelet.succeed(jobName(name, Stage.EVALUATE));
    operator.start();

    // Publish
    jobUids.put(Stage.PUBLISH, awaitJob(name, Stage.PUBLISH).getMetadata().getUid());
    kubelet.run(jobName(name, Stage.PUBLISH));
    PublishReport published = new PublishReport();
    published.setPublishedUri("hf://my-org/mistral-7b-pose-32k");
    report(name, Stage.PUBLISH, published);
    operator.kill();
    kubelet.succeed(jobName(name, Stage.PUBLISH));
    operator.start();

    cx = awaitPhase(name, Phase.Succeeded);
    assertThat(cx.getStatus().getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.96);
    assertThat(cx.getStatus().getOutput().getPublishedUri()).isEqualTo("hf://my-org/mistral-7b-pose-32k");
    assertThat(cx.getStatus().getTraining().getStep()).isEqualTo(1000);
    assertThat(jobs(name)).as("one Job per stage, none recreated").hasSize(4)
        .allMatch(j -> j.getMetadata().getUid().equals(jobUids.get(stageOf(j.getMetadata().getName()))));
    Map<String, Long> reasons = events(created).stream().collect(Collectors.groupingBy(Event::getReason, Collectors.counting()));
    for (String once : List.of("FetchSucceeded", "TrainSucceeded", "EvaluateSucceeded", "PublishSucceeded", "Completed")) {
      // an event may be recorded by the killed operator and again by its successor, never more often
      assertThat(reasons.getOrDefault(once, 0L)).as(once + " in " + reasons).isBetween(1L, 2L);
    }
  }

  private static Stage stageOf(String jobName) {
    for (Stage s : Stage.values()) {
      if (jobName.endsWith("-" + s.command())) {
        return s;
      }
    }
    throw new IllegalArgumentException(jobName);
  }

  /**
   * The API server stops for a while and comes back: the operator's watches fail, then resume (a new server has a
   * fresh watch cache, so a resume from the old resource version gets 410 Gone and the informer lists again);
   * changes made after the restart are seen, and the operator never exits.
   */
  @Test
  void anApiServerRestartUnderARunningOperatorLosesNothing() throws Exception {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "restarted";
    apply(example("mistral-32k.yaml", name));
    awaitJob(name, Stage.FETCH);
    kubelet.run(jobName(name, Stage.FETCH));
    awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchRunning"));
    long logBefore = Files.size(operator.log());
    long pid = operator.pid();

    plane.stop("apiserver");
    Thread.sleep(3000); // the operator's watches and requests fail meanwhile
    plane.start("apiserver");

    // the first change after the restart: the watch on the progress ConfigMap delivers it
    report(name, Stage.FETCH, fetched(8192));
    awaitStatus(name, c -> c.getStatus().getModel() != null);
    kubelet.succeed(jobName(name, Stage.FETCH));
    awaitJob(name, Stage.TRAIN);
    kubelet.run(jobName(name, Stage.TRAIN));
    ContextExtension cx = awaitStatus(name, c -> condition(c, "Progressing", "True", "TrainRunning"));
    assertThat(cx.getStatus().getStages().getFetch().getState().name()).isEqualTo("Succeeded");
    assertThat(operator.alive() && operator.pid() == pid).as("the same operator process throughout").isTrue();
    assertThat(jobs(name)).hasSize(2);
    String after = Files.readString(operator.log()).substring((int) logBefore);
    // the new server's watch cache starts where etcd is now: informers whose resource version is older get 410 Gone
    // and list again (which ones depends on the last event each saw), as the informers' DEBUG log shows
    java.util.regex.Matcher gone = java.util.regex.Pattern.compile("Watch restarting due to http gone for (\\S+)")
        .matcher(after);
    int expired = 0;
    while (gone.find()) {
      expired++;
      assertThat(after.substring(gone.end())).as("%s lists again after its 410", gone.group(1))
          .containsPattern("Listing items \\(\\d+\\) for " + java.util.regex.Pattern.quote(gone.group(1)));
    }
    assertThat(expired).as("expired watches (410 Gone) after the restart").isPositive();
  }
}
