package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.WorkspaceRetention;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * No trained work lost by deleting or retrying: a failed run starts again with the pose.io/retry annotation (once per
 * value, from its failed stage, earlier stages kept), and the workspace claim with its checkpoints outlives the
 * resource once training has written one, to be adopted by a resource of the same name.
 */
class RetryAndRetentionIT extends ClusterTestBase {

  @Test
  void aFailedRunIsRetriedWithoutDeletingIt() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "retried";
    apply(example("mistral-32k.yaml", name));
    untilTraining(name);
    String fetchUid = job(name, Stage.FETCH).getMetadata().getUid();
    String trainUid = job(name, Stage.TRAIN).getMetadata().getUid();
    report(name, Stage.TRAIN, train(300, 300));
    kubelet.fail(jobName(name, Stage.TRAIN), 3, "data/training: shard 7 is missing");
    ContextExtension cx = awaitPhase(name, Phase.Failed);
    assertThat(condition(cx, "Failed", "True", "TrainFailed")).isTrue();

    annotateRetry(name, "2026-12-04T13:00");
    cx = awaitStatus(name, c -> c.getStatus().getRetry() != null && c.getStatus().getRetry().getCount() != null);
    assertThat(cx.getStatus().getRetry().getFrom()).isEqualTo("Train");
    assertThat(cx.getStatus().getRetry().getObserved()).isEqualTo("2026-12-04T13:00");
    // the replaced Job goes, a new one of the same name comes; Fetch keeps its result and its Job
    await().atMost(PATIENCE).until(() -> job(name, Stage.TRAIN) != null
        && !trainUid.equals(job(name, Stage.TRAIN).getMetadata().getUid()));
    assertThat(job(name, Stage.FETCH).getMetadata().getUid()).isEqualTo(fetchUid);
    cx = awaitStatus(name, c -> condition(c, "Failed", "False", null) && c.getStatus().getPhase() == Phase.Training);
    assertThat(cx.getStatus().getStages().getFetch().getState().name()).isEqualTo("Succeeded");
    assertThat(events(cx)).filteredOn(e -> "Retrying".equals(e.getReason())).singleElement()
        .extracting(Event::getMessage).asString()
        .contains("Train and the later stages run again", "resumes from its checkpoint at step 300");

    // the new attempt resumes and the run completes
    kubelet.run(jobName(name, Stage.TRAIN));
    report(name, Stage.TRAIN, train(1000, 1000));
    kubelet.succeed(jobName(name, Stage.TRAIN));
    awaitJob(name, Stage.EVALUATE);
    kubelet.run(jobName(name, Stage.EVALUATE));
    EvaluationResults results = new EvaluationResults();
    results.getPasskey().add(new EvaluationResults.PasskeyResult(32768, 50, 0.97, 0.0));
    results.setCompleted(true);
    report(name, Stage.EVALUATE, results);
    kubelet.succeed(jobName(name, Stage.EVALUATE));
    awaitJob(name, Stage.PUBLISH);
    kubelet.run(jobName(name, Stage.PUBLISH));
    PublishReport published = new PublishReport();
    published.setPublishedUri("hf://my-org/retried");
    report(name, Stage.PUBLISH, published);
    kubelet.succeed(jobName(name, Stage.PUBLISH));
    cx = awaitPhase(name, Phase.Succeeded);
    assertThat(cx.getStatus().getRetry().getReplacedJobs()).as("pruned once the replaced Job is gone").isEmpty();

    // the same value again does nothing; a new value on a finished run evaluates and publishes again
    String publishUid = job(name, Stage.PUBLISH).getMetadata().getUid();
    annotateRetry(name, "2026-12-04T13:00");
    await().during(java.time.Duration.ofSeconds(3)).atMost(PATIENCE).until(() -> true);
    assertThat(job(name, Stage.PUBLISH).getMetadata().getUid()).isEqualTo(publishUid);
    assertThat(get(name).getStatus().getRetry().getCount()).isEqualTo(1);
    annotateRetry(name, "again");
    cx = awaitStatus(name, c -> Integer.valueOf(2).equals(c.getStatus().getRetry().getCount()));
    assertThat(cx.getStatus().getRetry().getFrom()).isEqualTo("Train");
    assertThat(cx.getStatus().getOutput() == null ? null : cx.getStatus().getOutput().getPublishedUri()).isNull();
    await().atMost(PATIENCE).until(() -> job(name, Stage.PUBLISH) == null);
    assertThat(job(name, Stage.FETCH).getMetadata().getUid()).isEqualTo(fetchUid);
  }

  @Test
  void theWorkspaceOutlivesTheResourceOnceACheckpointExists() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    String name = "kept";
    ContextExtension first = apply(example("mistral-32k.yaml", name));
    untilTraining(name);
    PersistentVolumeClaim claim = claim(name);
    assertThat(claim.getMetadata().getOwnerReferences()).as("owned until there is a checkpoint").singleElement()
        .matches(o -> o.getUid().equals(first.getMetadata().getUid()));

    report(name, Stage.TRAIN, train(250, 200));
    await().atMost(PATIENCE).until(() -> claim(name).getMetadata().getOwnerReferences().isEmpty());
    assertThat(claim(name).getMetadata().getAnnotations()).containsKey("pose.io/retained");
    await().atMost(PATIENCE).until(() -> events(first).stream().anyMatch(e -> "WorkspaceRetained".equals(e.getReason())));

    // deleted in the foreground: everything goes but the claim
    String claimUid = claim(name).getMetadata().getUid();
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name)
        .withPropagationPolicy(DeletionPropagation.FOREGROUND).delete();
    await().atMost(PATIENCE).until(() -> get(name) == null && jobs(name).isEmpty());
    await().during(java.time.Duration.ofSeconds(3)).atMost(PATIENCE).until(() -> true);
    assertThat(claim(name)).isNotNull();
    assertThat(claim(name).getMetadata().getUid()).isEqualTo(claimUid);

    // a resource of the same name adopts it, and keeps it kept
    ContextExtension second = apply(example("mistral-32k.yaml", name));
    await().atMost(PATIENCE).until(() -> events(second).stream().anyMatch(e -> "WorkspaceAdopted".equals(e.getReason())));
    assertThat(claim(name).getMetadata().getUid()).isEqualTo(claimUid);
    assertThat(claim(name).getMetadata().getOwnerReferences()).isEmpty();
    awaitJob(name, Stage.FETCH);

    // asking for Delete gives the claim back to the resource, and the garbage collector deletes it with it
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).edit(c -> {
      c.getSpec().setWorkspaceRetention(WorkspaceRetention.Delete);
      return c;
    });
    await().atMost(PATIENCE).until(() -> claim(name).getMetadata().getOwnerReferences().size() == 1
        && claim(name).getMetadata().getOwnerReferences().get(0).getUid().equals(second.getMetadata().getUid()));
    assertThat(claim(name).getMetadata().getAnnotations()).doesNotContainKey("pose.io/retained");
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).delete();
    await().atMost(PATIENCE).until(() -> claim(name) == null);
  }

  @Test
  void retainKeepsTheClaimFromTheStart() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    ContextExtension spec = example("mistral-32k.yaml", "always-kept");
    spec.getSpec().setWorkspaceRetention(WorkspaceRetention.Retain);
    apply(spec);
    awaitJob("always-kept", Stage.FETCH);
    await().atMost(PATIENCE).until(() -> claim("always-kept") != null);
    assertThat(claim("always-kept").getMetadata().getOwnerReferences()).isEmpty();
    assertThat(claim("always-kept").getMetadata().getAnnotations()).containsEntry("pose.io/retained",
        "spec.workspaceRetention is Retain");
    admin.resources(ContextExtension.class).inNamespace(namespace).withName("always-kept").delete();
    await().atMost(PATIENCE).until(() -> get("always-kept") == null && jobs("always-kept").isEmpty());
    assertThat(claim("always-kept")).isNotNull();
  }

  private static PersistentVolumeClaim claim(String cx) {
    return admin.persistentVolumeClaims().inNamespace(namespace).withName(cx + "-workspace").get();
  }

  private static void annotateRetry(String name, String value) {
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).edit(c -> {
      Map<String, String> annotations = c.getMetadata().getAnnotations() == null ? new java.util.HashMap<>()
          : new java.util.HashMap<>(c.getMetadata().getAnnotations());
      annotations.put("pose.io/retry", value);
      c.getMetadata().setAnnotations(annotations);
      return c;
    });
  }

  private static TrainReport train(int step, int checkpoint) {
    TrainReport t = new TrainReport();
    t.setStep(step);
    t.setTotalSteps(1000);
    t.setLastCheckpointStep(checkpoint);
    if (step == 1000) {
      t.setModelUri("pvc://retried-workspace/output/model");
    }
    return t;
  }
}
