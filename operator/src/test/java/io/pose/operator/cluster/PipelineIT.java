package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.SpecIO;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The whole pipeline on a real API server with the real Job controller and garbage collector: the operator (as
 * production runs it) creates each stage's Job, the Job controller its pods, the "kubelet" runs them, the "trainer"
 * reports progress with its own token, and status, conditions, events and printer columns follow; deleting the
 * resource deletes everything it owns, in the foreground and in the background.
 */
class PipelineIT extends ClusterTestBase {

  @Test
  void mistralExampleRunsFromFetchToPublishAndItsDeletionCollectsEverything() throws Exception {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    ContextExtension created = apply(example("mistral-32k.yaml", "mistral"));
    String name = "mistral";

    // Fetch: the Job controller creates the pod, which runs as the stage ServiceAccount
    Job fetch = awaitJob(name, Stage.FETCH);
    assertThat(fetch.getMetadata().getOwnerReferences()).singleElement()
        .matches(r -> r.getController() && r.getUid().equals(created.getMetadata().getUid()));
    Pod pod = kubelet.awaitPod(jobName(name, Stage.FETCH));
    assertThat(pod.getSpec().getServiceAccountName()).isEqualTo("mistral-stage");
    assertThat(pod.getSpec().getContainers().get(0).getImage()).isEqualTo("example.com/pose-trainer:it");
    ContextExtension cx = awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchQueued"));
    assertThat(condition(cx, "Valid", "True", "SpecValid")).isTrue();
    assertThat(cx.getStatus().getSpecFingerprint()).isEqualTo(SpecIO.fingerprint(cx.getSpec()));
    kubelet.run(jobName(name, Stage.FETCH));
    awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchRunning"));
    report(name, Stage.FETCH, fetched(8192));
    cx = awaitStatus(name, c -> c.getStatus().getModel() != null);
    assertThat(cx.getStatus().getModel().getOriginalContextLength()).isEqualTo(8192);
    assertThat(job(name, Stage.TRAIN)).as("Train waits for Fetch").isNull();
    kubelet.succeed(jobName(name, Stage.FETCH));

    // Train: an Indexed Job; progress reported while it runs
    Job train = awaitJob(name, Stage.TRAIN);
    assertThat(train.getSpec().getCompletionMode()).isEqualTo("Indexed");
    cx = awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training);
    assertThat(cx.getStatus().getStages().getFetch().getState()).isEqualTo(StageState.Succeeded);
    kubelet.run(jobName(name, Stage.TRAIN));
    TrainReport progress = new TrainReport();
    progress.setStep(420);
    progress.setTotalSteps(1000);
    progress.setLoss(2.31);
    progress.setTokensPerSecond(5100.0);
    progress.setEtaSeconds(9000L);
    progress.setLastCheckpointStep(400);
    report(name, Stage.TRAIN, progress);
    // the Job controller reports the pod ready; the operator combines that with the trainer's report
    awaitStatus(name, c -> "Train is running: step 420/1000, loss 2.310, 5100 tokens/s, ETA 2h30m"
        .equals(c.getStatus().getMessage()));
    Map<String, String> columns = printerColumns(name);
    assertThat(columns).containsEntry("Phase", "Training").containsEntry("Step", "420/1000")
        .containsEntry("Loss", "2.31").containsEntry("Target", "32768").containsKey("Age");
    progress.setStep(1000);
    progress.setModelUri("pvc://mistral-workspace/output/model");
    report(name, Stage.TRAIN, progress);
    kubelet.succeed(jobName(name, Stage.TRAIN));

    // Evaluate
    awaitJob(name, Stage.EVALUATE);
    cx = awaitPhase(name, Phase.Evaluating);
    assertThat(cx.getStatus().getOutput().getModelUri()).isEqualTo("pvc://mistral-workspace/output/model");
    kubelet.run(jobName(name, Stage.EVALUATE));
    EvaluationResults results = new EvaluationResults();
    for (int length : new int[] {4096, 8192, 16384, 32768}) {
      results.getPasskey().add(new EvaluationResults.PasskeyResult(length, 50, length == 32768 ? 0.96 : 1.0, 0.0));
    }
    results.setCompleted(true);
    report(name, Stage.EVALUATE, results);
    awaitStatus(name, c -> c.getStatus().getEvaluation() != null
        && c.getStatus().getEvaluation().getPasskeyAccuracyAtTarget() != null);
    kubelet.succeed(jobName(name, Stage.EVALUATE));

    // Publish
    awaitJob(name, Stage.PUBLISH);
    kubelet.run(jobName(name, Stage.PUBLISH));
    PublishReport published = new PublishReport();
    published.setPublishedUri("hf://my-org/mistral-7b-pose-32k");
    published.setRevision("9f2c1e0");
    report(name, Stage.PUBLISH, published);
    kubelet.succeed(jobName(name, Stage.PUBLISH));

    cx = awaitPhase(name, Phase.Succeeded);
    assertThat(condition(cx, "Succeeded", "True", "Completed")).isTrue();
    assertThat(condition(cx, "Ready", "True", "Completed")).isTrue();
    assertThat(condition(cx, "Reconciling", "False", null)).isTrue();
    assertThat(cx.getStatus().getOutput().getPublishedUri()).isEqualTo("hf://my-org/mistral-7b-pose-32k");
    assertThat(printerColumns(name)).containsEntry("Phase", "Succeeded").containsEntry("Passkey@Target", "0.96");
    assertThat(jobs(name)).hasSize(4).allMatch(j -> j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() == 1);
    ContextExtension done = cx;
    await().atMost(PATIENCE).untilAsserted(() -> assertThat(events(done)).extracting(Event::getReason).contains(
        "FetchStarted", "FetchSucceeded", "TrainStarted", "TrainSucceeded", "EvaluateStarted", "EvaluateSucceeded",
        "PublishStarted", "PublishSucceeded", "Completed"));

    // What others add to the supporting objects stays (an IAM role on the stage ServiceAccount, a team label)
    admin.serviceAccounts().inNamespace(namespace).withName(name + "-stage").edit(sa -> {
      sa.getMetadata().getAnnotations().put("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/pose");
      return sa;
    });
    admin.configMaps().inNamespace(namespace).withName(name + "-config").edit(cm -> {
      cm.getMetadata().getLabels().put("team", "research");
      return cm;
    });
    // Steady state: reconciling again (a label edit, then a resync) writes none of the supporting objects
    Map<String, String> versions = versions(name);
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name).edit(c -> {
      c.getMetadata().setLabels(Map.of("touched", "yes"));
      return c;
    });
    await().during(java.time.Duration.ofSeconds(4)).atMost(PATIENCE).until(() -> true);
    assertThat(versions(name)).as("no writes without a change").isEqualTo(versions);
    assertThat(admin.serviceAccounts().inNamespace(namespace).withName(name + "-stage").get().getMetadata()
        .getAnnotations()).containsEntry("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/pose");
    assertThat(admin.configMaps().inNamespace(namespace).withName(name + "-config").get().getMetadata().getLabels())
        .containsEntry("team", "research");
    assertThat(get(name).getStatus().getPhase()).isEqualTo(Phase.Succeeded);

    // The packaged operator counts its reconciliations: at least one per stage that succeeded
    String metrics = operator.metrics();
    assertThat(OperatorProcess.sample(metrics, "pose_reconciliations_total")).isGreaterThanOrEqualTo(4);
    assertThat(OperatorProcess.sample(metrics, "pose_stage_transitions_total")).isGreaterThanOrEqualTo(4);
    assertThat(metrics).contains("pose_phase{");

    // Foreground deletion: the garbage collector deletes the dependents first, then the resource
    List<String> owned = ownedNames(name);
    assertThat(owned).contains("ConfigMap/mistral-config", "ConfigMap/mistral-progress", "ServiceAccount/mistral-stage",
        "Role/mistral-stage", "RoleBinding/mistral-stage", "Service/mistral-rdzv", "PersistentVolumeClaim/mistral-workspace",
        "Job/mistral-fetch", "Job/mistral-train", "Job/mistral-eval", "Job/mistral-publish");
    admin.resources(ContextExtension.class).inNamespace(namespace).withName(name)
        .withPropagationPolicy(DeletionPropagation.FOREGROUND).delete();
    await().atMost(PATIENCE).until(() -> get(name) == null);
    // training reported a checkpoint, so the workspace claim was released (spec.workspaceRetention's default) and stays
    assertThat(ownedNames(name)).as("foreground deletion finished only after its dependents")
        .containsExactly("PersistentVolumeClaim/mistral-workspace");
    assertThat(admin.persistentVolumeClaims().inNamespace(namespace).withName("mistral-workspace").get().getMetadata()
        .getOwnerReferences()).isEmpty();
    assertThat(admin.pods().inNamespace(namespace).withLabel("batch.kubernetes.io/job-name").list().getItems())
        .noneMatch(p -> p.getMetadata().getName().startsWith("mistral-"));
  }

  @Test
  void backgroundDeletionLetsTheGarbageCollectorRemoveTheDependents() {
    secrets("hf-token", "corpus-s3", "hf-write-token");
    ContextExtension created = apply(example("mistral-32k.yaml", "background"));
    awaitJob("background", Stage.FETCH);
    kubelet.run(jobName("background", Stage.FETCH));
    awaitStatus("background", c -> condition(c, "Progressing", "True", "FetchRunning"));
    for (String o : ownedNames("background")) {
      assertThat(o).startsWith(o.substring(0, o.indexOf('/') + 1) + "background-");
    }
    admin.resources(ContextExtension.class).inNamespace(namespace).withName("background")
        .withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
    await().atMost(PATIENCE).until(() -> get("background") == null);
    await().atMost(PATIENCE).untilAsserted(() -> assertThat(ownedNames("background")).isEmpty());
    assertThat(created.getMetadata().getUid()).isNotBlank();
  }

  private static Map<String, String> versions(String cx) {
    Map<String, String> out = new java.util.TreeMap<>();
    java.util.function.Consumer<io.fabric8.kubernetes.api.model.HasMetadata> add = o ->
        out.put(o.getKind() + "/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion());
    add.accept(admin.configMaps().inNamespace(namespace).withName(cx + "-config").get());
    add.accept(admin.serviceAccounts().inNamespace(namespace).withName(cx + "-stage").get());
    add.accept(admin.rbac().roles().inNamespace(namespace).withName(cx + "-stage").get());
    add.accept(admin.rbac().roleBindings().inNamespace(namespace).withName(cx + "-stage").get());
    add.accept(admin.services().inNamespace(namespace).withName(cx + "-rdzv").get());
    add.accept(admin.persistentVolumeClaims().inNamespace(namespace).withName(cx + "-workspace").get());
    jobs(cx).forEach(add);
    return out;
  }

  private static List<String> ownedNames(String cx) {
    var all = io.pose.operator.OperatorHarness.owned(admin, namespace, cx);
    for (var o : all) {
      for (OwnerReference ref : o.getMetadata().getOwnerReferences()) {
        assertThat(ref.getKind()).isEqualTo("ContextExtension");
      }
    }
    return all.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).sorted().toList();
  }
}
