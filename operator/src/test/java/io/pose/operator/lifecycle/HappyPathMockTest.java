package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.NAMESPACE;
import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.SpecIO;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.progress.PublishReport;
import io.pose.api.progress.TrainReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.operator.OperatorHarness;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The whole pipeline of examples/mistral-32k.yaml, with status checked at every stage. */
@EnableKubernetesMockClient(crud = true)
class HappyPathMockTest {

  static KubernetesClient client;
  OperatorHarness k8s;

  @BeforeEach
  void start() {
    k8s = new OperatorHarness(client).installCrd().start();
  }

  @AfterEach
  void stop() {
    k8s.close();
    k8s.wipe();
  }

  @Test
  void mistralExampleRunsFromFetchToPublish() {
    k8s.secret("hf-token");
    k8s.secret("corpus-s3");
    k8s.secret("hf-write-token");
    ContextExtension created = k8s.apply(OperatorHarness.example("mistral-32k.yaml"));
    String name = created.getMetadata().getName();

    // Fetch: created with the supporting objects, resource Valid and Fetching
    Job fetch = k8s.awaitJob(name, Stage.FETCH);
    // the image's ENTRYPOINT is pose: the Job passes only its arguments
    assertThat(fetch.getSpec().getTemplate().getSpec().getContainers().get(0).getCommand()).isEmpty();
    assertThat(fetch.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .containsExactly("fetch", "--config", "/etc/pose/config.yaml");
    assertThat(fetch.getSpec().getTemplate().getSpec().getSecurityContext().getFsGroup()).isEqualTo(65532L);
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus() != null && c.getStatus().getPhase() == Phase.Fetching);
    assertThat(condition(cx, "Valid", "True", "SpecValid")).isTrue();
    assertThat(condition(cx, "Progressing", "True", "FetchQueued")).isTrue();
    assertThat(condition(cx, "Reconciling", "True", null)).isTrue();
    assertThat(condition(cx, "Succeeded", "False", null)).isTrue();
    assertThat(cx.getStatus().getObservedGeneration()).isEqualTo(cx.getMetadata().getGeneration());
    assertThat(cx.getStatus().getStages().getFetch().getJobName()).isEqualTo("mistral-7b-32k-fetch");
    assertThat(cx.getStatus().getSpecFingerprint()).isEqualTo(SpecIO.fingerprint(cx.getSpec()));
    String validSince = cx.getStatus().condition("Valid").map(Condition::getLastTransitionTime).orElseThrow();

    List<HasMetadata> owned = k8s.owned(cx);
    assertThat(owned).extracting(o -> o.getKind() + "/" + o.getMetadata().getName()).contains(
        "ConfigMap/mistral-7b-32k-config", "ConfigMap/mistral-7b-32k-progress", "ServiceAccount/mistral-7b-32k-stage",
        "Role/mistral-7b-32k-stage", "RoleBinding/mistral-7b-32k-stage", "Service/mistral-7b-32k-rdzv",
        "PersistentVolumeClaim/mistral-7b-32k-workspace", "Job/mistral-7b-32k-fetch");
    for (HasMetadata o : owned) {
      OwnerReference ref = o.getMetadata().getOwnerReferences().get(0);
      assertThat(ref.getUid()).as(o.getMetadata().getName()).isEqualTo(cx.getMetadata().getUid());
      assertThat(ref.getController()).isTrue();
    }
    String config = k8s.configMap("mistral-7b-32k-config").getData().get("config.yaml");
    ContextExtension rendered = SpecIO.parse(config, "config.yaml");
    assertThat(SpecIO.fingerprint(rendered.getSpec())).isEqualTo(SpecIO.fingerprint(cx.getSpec()));
    assertThat(k8s.configMap("mistral-7b-32k-progress").getData()).isNullOrEmpty();

    k8s.jobRunning(name, Stage.FETCH);
    cx = k8s.awaitStatus(name, c -> condition(c, "Progressing", "True", "FetchRunning"));
    FetchReport fetched = new FetchReport();
    fetched.setOriginalContextLength(8192);
    fetched.setModelRevision("26bca36bde8333b5d7f72e9ed20ccda6a618af24");
    fetched.setArchitecture("MistralForCausalLM");
    fetched.setModelUri("pvc://mistral-7b-32k-workspace/base");
    k8s.report(name, Stage.FETCH, fetched);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getModel() != null);
    assertThat(cx.getStatus().getModel().getRevision()).isEqualTo("26bca36bde8333b5d7f72e9ed20ccda6a618af24");
    assertThat(k8s.job(name, Stage.TRAIN)).as("Train waits for Fetch").isNull();
    k8s.jobSucceeded(name, Stage.FETCH);

    // Train
    Job train = k8s.awaitJob(name, Stage.TRAIN);
    assertThat(train.getSpec().getCompletionMode()).isEqualTo("Indexed");
    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training);
    assertThat(cx.getStatus().getStages().getFetch().getState()).isEqualTo(StageState.Succeeded);
    k8s.jobRunning(name, Stage.TRAIN);
    TrainReport progress = new TrainReport();
    progress.setStep(420);
    progress.setTotalSteps(1000);
    progress.setLoss(2.31);
    progress.setTokensPerSecond(5100.0);
    progress.setEtaSeconds(9000L);
    progress.setLastCheckpointStep(400);
    k8s.report(name, Stage.TRAIN, progress);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getTraining() != null && c.getStatus().getTraining().getStep() != null);
    assertThat(cx.getStatus().getTraining().getProgress()).isEqualTo("420/1000");
    assertThat(cx.getStatus().getTraining().getLoss()).isEqualTo(2.31);
    assertThat(cx.getStatus().getTraining().getLastCheckpointStep()).isEqualTo(400);
    assertThat(cx.getStatus().getMessage()).isEqualTo("Train is running: step 420/1000, loss 2.310, 5100 tokens/s, ETA 2h30m");
    assertThat(k8s.registry().get("pose.training.step").tag("name", name).gauge().value()).isEqualTo(420.0);
    assertThat(k8s.registry().get("pose.training.loss").tag("name", name).gauge().value()).isEqualTo(2.31);
    assertThat(k8s.registry().get("pose.phase").tag("name", name).tag("phase", "Training").gauge().value()).isEqualTo(1.0);
    progress.setStep(1000);
    progress.setModelUri("pvc://mistral-7b-32k-workspace/output/model");
    k8s.report(name, Stage.TRAIN, progress);
    k8s.jobSucceeded(name, Stage.TRAIN);

    // Evaluate
    k8s.awaitJob(name, Stage.EVALUATE);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Evaluating);
    assertThat(cx.getStatus().getOutput().getModelUri()).isEqualTo("pvc://mistral-7b-32k-workspace/output/model");
    EvaluationResults results = new EvaluationResults();
    for (int length : new int[] {4096, 8192, 16384, 32768}) {
      results.getPasskey().add(new EvaluationResults.PasskeyResult(length, 50, length == 32768 ? 0.96 : 1.0, 0.0));
    }
    results.setCompleted(true);
    k8s.report(name, Stage.EVALUATE, results);
    cx = k8s.awaitStatus(name, c -> c.getStatus().getEvaluation() != null
        && c.getStatus().getEvaluation().getPasskeyAccuracyAtTarget() != null);
    assertThat(cx.getStatus().getEvaluation().getPasskeyAccuracyAtTarget()).isEqualTo(0.96);
    assertThat(cx.getStatus().getEvaluation().getPasskey()).hasSize(4);
    k8s.jobSucceeded(name, Stage.EVALUATE);

    // Publish (the quality gate of 0.9 passes with 0.96)
    Job publish = k8s.awaitJob(name, Stage.PUBLISH);
    assertThat(publish.getSpec().getTemplate().getSpec().getVolumes()).extracting(v -> v.getSecret() == null ? null
        : v.getSecret().getSecretName()).containsOnly(null, "hf-write-token");
    PublishReport published = new PublishReport();
    published.setPublishedUri("hf://my-org/mistral-7b-pose-32k");
    published.setRevision("9f2c1e0");
    k8s.report(name, Stage.PUBLISH, published);
    k8s.jobSucceeded(name, Stage.PUBLISH);

    cx = k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Succeeded);
    assertThat(condition(cx, "Succeeded", "True", "Completed")).isTrue();
    assertThat(condition(cx, "Ready", "True", "Completed")).isTrue();
    assertThat(condition(cx, "Progressing", "False", "Completed")).isTrue();
    assertThat(condition(cx, "Reconciling", "False", null)).isTrue();
    assertThat(condition(cx, "Stalled", "False", null)).isTrue();
    assertThat(condition(cx, "Failed", "False", null)).isTrue();
    assertThat(cx.getStatus().getOutput().getPublishedUri()).isEqualTo("hf://my-org/mistral-7b-pose-32k");
    assertThat(cx.getStatus().getConditions()).allMatch(c -> List.of("True", "False").contains(c.getStatus()));
    assertThat(cx.getStatus().condition("Valid").map(Condition::getLastTransitionTime).orElseThrow())
        .as("lastTransitionTime is stable while the status does not change").isEqualTo(validSince);
    assertThat(k8s.jobs()).hasSize(4);

    List<Event> events = client.v1().events().inNamespace(NAMESPACE).list().getItems();
    assertThat(events).extracting(Event::getReason).contains("FetchStarted", "FetchSucceeded", "TrainStarted",
        "TrainSucceeded", "EvaluateStarted", "EvaluateSucceeded", "PublishStarted", "PublishSucceeded", "Completed");
    assertThat(events).allMatch(e -> e.getInvolvedObject().getUid().equals(created.getMetadata().getUid()));
  }
}
