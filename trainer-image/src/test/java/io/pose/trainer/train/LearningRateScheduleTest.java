package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The schedules match transformers' (tools/reference/lr_schedules.py) at every step. */
class LearningRateScheduleTest {

  @Test
  void matchesTransformers() throws Exception {
    JsonNode reference = new ObjectMapper().readTree(Path.of("src/test/resources/lr_schedules.json").toFile());
    for (LrSchedule kind : LrSchedule.values()) {
      LearningRateSchedule schedule = new LearningRateSchedule(2e-5, 10, 100, kind);
      JsonNode rates = reference.get(kind.wireName());
      for (int step = 0; step < rates.size(); step++) {
        assertThat(schedule.at(step)).as("%s step %d", kind, step).isCloseTo(rates.get(step).asDouble(), offset(1e-12));
      }
    }
  }
}
