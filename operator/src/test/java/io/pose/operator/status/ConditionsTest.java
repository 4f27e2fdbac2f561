package io.pose.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionsTest {

  static final String NOW = "2026-11-25T20:00:00Z";
  static final String LATER = "2026-11-25T21:30:00Z";

  static Condition only(List<Condition> conditions, String type) {
    return conditions.stream().filter(c -> c.getType().equals(type)).findFirst()
        .orElseThrow(() -> new AssertionError("no condition " + type));
  }

  @Test
  void addsToAnEmptyOrMissingList() {
    for (List<Condition> start : java.util.Arrays.asList(null, List.<Condition>of())) {
      List<Condition> c = Conditions.set(start, Conditions.VALID, true, "SpecValid", "the spec is valid", 3L, NOW);
      assertThat(c).singleElement().satisfies(v -> {
        assertThat(v.getType()).isEqualTo("Valid");
        assertThat(v.getStatus()).isEqualTo("True");
        assertThat(v.getReason()).isEqualTo("SpecValid");
        assertThat(v.getMessage()).isEqualTo("the spec is valid");
        assertThat(v.getObservedGeneration()).isEqualTo(3L);
        assertThat(v.getLastTransitionTime()).isEqualTo(NOW);
      });
    }
  }

  @Test
  void statusIsTheStringTrueOrFalse() {
    List<Condition> c = Conditions.set(null, Conditions.FAILED, false, "NoFailure", "", 1L, NOW);
    c = Conditions.set(c, Conditions.READY, true, "Completed", "ready", 1L, NOW);
    assertThat(only(c, "Failed").getStatus()).isEqualTo("False");
    assertThat(only(c, "Ready").getStatus()).isEqualTo("True");
    assertThat(c).extracting(Condition::getStatus).allMatch(s -> s.equals("True") || s.equals("False"));
  }

  @Test
  void nullMessageBecomesEmpty() {
    List<Condition> c = Conditions.set(null, Conditions.SUSPENDED, false, "NotSuspended", null, 1L, NOW);
    assertThat(only(c, "Suspended").getMessage()).isEmpty();
  }

  @Test
  void updatingKeepsTransitionTimeWhenTheStatusIsUnchanged() {
    List<Condition> c = Conditions.set(null, Conditions.PROGRESSING, true, "FetchQueued", "Fetch is queued", 1L, NOW);
    c = Conditions.set(c, Conditions.PROGRESSING, true, "FetchRunning", "Fetch is running", 2L, LATER);
    assertThat(c).singleElement().satisfies(p -> {
      assertThat(p.getStatus()).isEqualTo("True");
      assertThat(p.getReason()).isEqualTo("FetchRunning");
      assertThat(p.getMessage()).isEqualTo("Fetch is running");
      assertThat(p.getObservedGeneration()).isEqualTo(2L);
      assertThat(p.getLastTransitionTime()).isEqualTo(NOW);
    });
  }

  @Test
  void newTransitionTimeWhenTheStatusFlips() {
    List<Condition> c = Conditions.set(null, Conditions.SUCCEEDED, false, "Pending", "waiting", 1L, NOW);
    c = Conditions.set(c, Conditions.SUCCEEDED, true, "Completed", "the extended model is ready", 1L, LATER);
    assertThat(only(c, "Succeeded").getStatus()).isEqualTo("True");
    assertThat(only(c, "Succeeded").getLastTransitionTime()).isEqualTo(LATER);

    String evenLater = "2026-11-26T08:00:00Z";
    c = Conditions.set(c, Conditions.SUCCEEDED, false, "Reset", "again", 1L, evenLater);
    assertThat(only(c, "Succeeded").getStatus()).isEqualTo("False");
    assertThat(only(c, "Succeeded").getLastTransitionTime()).isEqualTo(evenLater);
  }

  @Test
  void missingTransitionTimeIsFilledIn() {
    List<Condition> start = List.of(new ConditionBuilder().withType("Valid").withStatus("True").withReason("SpecValid")
        .build());
    List<Condition> c = Conditions.set(start, Conditions.VALID, true, "SpecValid", "ok", 1L, LATER);
    assertThat(only(c, "Valid").getLastTransitionTime()).isEqualTo(LATER);
  }

  @Test
  void previouslyUnknownCountsAsAChange() {
    List<Condition> start = List.of(new ConditionBuilder().withType("Ready").withStatus("Unknown").withReason("Init")
        .withLastTransitionTime(NOW).build());
    List<Condition> c = Conditions.set(start, Conditions.READY, false, "NotReady", "", 1L, LATER);
    assertThat(only(c, "Ready").getStatus()).isEqualTo("False");
    assertThat(only(c, "Ready").getLastTransitionTime()).isEqualTo(LATER);
  }

  @Test
  void updatingOneLeavesTheOthers() {
    List<Condition> c = Conditions.set(null, Conditions.VALID, true, "SpecValid", "ok", 1L, NOW);
    c = Conditions.set(c, Conditions.FAILED, false, "NoFailure", "", 1L, NOW);
    List<Condition> next = Conditions.set(c, Conditions.FAILED, true, "TrainFailed", "Train failed: x", 1L, LATER);
    assertThat(next).hasSize(2);
    assertThat(only(next, "Valid")).isEqualTo(only(c, "Valid"));
    assertThat(only(next, "Failed").getLastTransitionTime()).isEqualTo(LATER);
  }

  @Test
  void orderedAsConditionsAll() {
    List<Condition> c = null;
    List<String> reversed = new ArrayList<>(Conditions.ALL);
    java.util.Collections.reverse(reversed);
    for (String type : reversed) {
      c = Conditions.set(c, type, false, "Because", "", 1L, NOW);
    }
    assertThat(c).extracting(Condition::getType).containsExactlyElementsOf(Conditions.ALL);
    assertThat(Conditions.ALL).containsExactly("Valid", "Ready", "Progressing", "Succeeded", "Failed", "Suspended",
        "Reconciling", "Stalled");
  }

  @Test
  void unknownTypesGoLastInTheirOrder() {
    List<Condition> start = List.of(
        new ConditionBuilder().withType("Custom").withStatus("True").withReason("X").withLastTransitionTime(NOW).build(),
        new ConditionBuilder().withType("Stalled").withStatus("False").withReason("NotStalled")
            .withLastTransitionTime(NOW).build());
    List<Condition> c = Conditions.set(start, Conditions.VALID, true, "SpecValid", "", 1L, NOW);
    c = Conditions.set(c, "AnotherCustom", true, "Y", "", 1L, NOW);
    assertThat(c).extracting(Condition::getType).containsExactly("Valid", "Stalled", "Custom", "AnotherCustom");
  }

  @Test
  void doesNotChangeTheGivenList() {
    List<Condition> start = new ArrayList<>(Conditions.set(null, Conditions.VALID, true, "SpecValid", "ok", 1L, NOW));
    Condition before = start.get(0);
    List<Condition> c = Conditions.set(start, Conditions.VALID, false, "InvalidSpec", "bad", 2L, LATER);
    c = Conditions.set(c, Conditions.READY, false, "NotReady", "", 2L, LATER);
    assertThat(start).containsExactly(before);
    assertThat(before.getStatus()).isEqualTo("True");
    assertThat(before.getLastTransitionTime()).isEqualTo(NOW);
    assertThat(c).hasSize(2);
  }

  @Test
  void acceptsAnImmutableList() {
    List<Condition> start = List.copyOf(Conditions.set(null, Conditions.VALID, true, "SpecValid", "ok", 1L, NOW));
    List<Condition> c = Conditions.set(start, Conditions.VALID, true, "SpecValid", "still ok", 1L, LATER);
    assertThat(only(c, "Valid").getMessage()).isEqualTo("still ok");
  }
}
