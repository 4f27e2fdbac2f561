package io.pose.operator.status;

import static io.pose.operator.status.StatusFixtures.LATER;
import static io.pose.operator.status.StatusFixtures.NOW;
import static io.pose.operator.status.StatusFixtures.evaluation;
import static io.pose.operator.status.StatusFixtures.jobs;
import static io.pose.operator.status.StatusFixtures.none;
import static io.pose.operator.status.StatusFixtures.progress;
import static io.pose.operator.status.StatusFixtures.running;
import static io.pose.operator.status.StatusFixtures.succeeded;
import static io.pose.operator.status.StatusFixtures.trainReport;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.Fixtures;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.ProgressSnapshot;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** StatusAssembler is documented as a pure function: it must not change the previous status it is given. */
class StatusAssemblerPurityTest {

  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void assembleLeavesThePreviousStatusUnchanged() {
    Resolved r = Fixtures.resolved("mistral-32k.yaml");
    ContextExtensionStatus first = StatusAssembler.assemble(r, none(), Assessment.of(r, none(),
        jobs(succeeded(r, Stage.FETCH), running(r, Stage.TRAIN, 1))), progress(null, trainReport(420), null, null),
        Verdict.clean(), "fp", NOW).status();
    ContextExtensionStatus previous = JSON.convertValue(first, ContextExtensionStatus.class);
    JsonNode before = JSON.valueToTree(previous);

    Map<Stage, Job> jobs = jobs(succeeded(r, Stage.FETCH), running(r, Stage.TRAIN, 2));
    StatusAssembler.assemble(r, previous, Assessment.of(r, previous, jobs), ProgressSnapshot.empty(), Verdict.clean(),
        "fp", LATER);

    JsonNode after = JSON.valueToTree(previous);
    assertThat(after.toString()).isEqualTo(before.toString());
  }
}
