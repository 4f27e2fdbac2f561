package io.pose.operator.lifecycle;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.progress.FetchReport;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.OperatorHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fresh mock API server (CRUD mode), the CRD installed and the operator running, for each test. */
@EnableKubernetesMockClient(crud = true)
abstract class MockTestBase {

  static KubernetesClient client;
  OperatorHarness k8s;

  @BeforeEach
  void startOperator() {
    k8s = new OperatorHarness(client).installCrd().start();
  }

  @AfterEach
  void stopOperator() {
    k8s.close();
    k8s.wipe();
  }

  /** Applies an example with all its Secrets present. */
  ContextExtension applyWithSecrets(ContextExtension cx) {
    for (String secret : new String[] {"hf-token", "corpus-s3", "hf-write-token", "models-s3", "registry-push"}) {
      if (client.secrets().inNamespace(OperatorHarness.NAMESPACE).withName(secret).get() == null) {
        k8s.secret(secret);
      }
    }
    return k8s.apply(cx);
  }

  /** Fetch succeeds (reporting the original length) and training starts running. */
  void runUntilTraining(String name, int originalContextLength) {
    k8s.jobRunning(name, Stage.FETCH);
    FetchReport fetched = new FetchReport();
    fetched.setOriginalContextLength(originalContextLength);
    k8s.report(name, Stage.FETCH, fetched);
    k8s.awaitStatus(name, c -> c.getStatus().getModel() != null);
    k8s.jobSucceeded(name, Stage.FETCH);
    k8s.awaitJob(name, Stage.TRAIN);
    k8s.jobRunning(name, Stage.TRAIN);
    k8s.awaitStatus(name, c -> c.getStatus().getPhase() == Phase.Training
        && OperatorHarness.condition(c, "Progressing", "True", "TrainRunning"));
  }

  static EvaluationResults passkey(int length, double accuracy) {
    EvaluationResults results = new EvaluationResults();
    results.getPasskey().add(new EvaluationResults.PasskeyResult(length, 50, accuracy, 0.0));
    results.setCompleted(true);
    return results;
  }
}
