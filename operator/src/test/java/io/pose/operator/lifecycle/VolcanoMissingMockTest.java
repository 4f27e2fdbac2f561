package io.pose.operator.lifecycle;

import static io.pose.operator.OperatorHarness.condition;
import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.SchedulingSettings;
import io.pose.api.v1alpha1.VolcanoSettings;
import io.pose.operator.OperatorHarness;
import org.junit.jupiter.api.Test;

/** Asking for Volcano where it is not installed is an input error, not a stuck Job. */
class VolcanoMissingMockTest extends MockTestBase {

  @Test
  void volcanoWithoutItsCrdIsInvalid() {
    ContextExtension spec = OperatorHarness.example("mistral-32k.yaml");
    spec.getSpec().setScheduling(new SchedulingSettings());
    spec.getSpec().getScheduling().setVolcano(new VolcanoSettings());
    String name = applyWithSecrets(spec).getMetadata().getName();
    ContextExtension cx = k8s.awaitStatus(name, c -> c.getStatus() != null && condition(c, "Valid", "False", "VolcanoNotInstalled"));
    assertThat(cx.getStatus().condition("Valid").orElseThrow().getMessage()).startsWith(
        "spec.scheduling.volcano: Volcano is not installed in this cluster");
    assertThat(k8s.jobs()).isEmpty();
  }
}
