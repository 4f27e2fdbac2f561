package io.pose.api.progress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.api.v1alpha1.Stage;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgressProtocolTest {

  @Test
  void keysAndNamesAreThoseTheDocsDescribe() {
    assertThat(ProgressProtocol.configMapName("mistral-7b-32k")).isEqualTo("mistral-7b-32k-progress");
    assertThat(Stage.values()).extracting(ProgressProtocol::key)
        .containsExactly("fetch.json", "train.json", "eval.json", "publish.json");
  }

  @Test
  void trainReportRoundTrips() {
    TrainReport r = new TrainReport();
    r.setStep(420);
    r.setTotalSteps(1000);
    r.setLoss(2.31);
    r.setTokensPerSecond(5100.0);
    String json = ProgressProtocol.write(r);
    assertThat(json).contains("\"schemaVersion\":1", "\"step\":420");
    TrainReport back = ProgressProtocol.read(Map.of("train.json", json), Stage.TRAIN, TrainReport.class).orElseThrow();
    assertThat(back.getLoss()).isEqualTo(2.31);
    assertThat(back.getTotalSteps()).isEqualTo(1000);
  }

  @Test
  void readersIgnoreFieldsANewerTrainerAdds() {
    String json = "{\"schemaVersion\":1,\"step\":3,\"gradNorm\":0.9}";
    assertThat(ProgressProtocol.read(Map.of("train.json", json), Stage.TRAIN, TrainReport.class).orElseThrow().getStep())
        .isEqualTo(3);
  }

  @Test
  void missingKeysAreEmpty() {
    assertThat(ProgressProtocol.read(Map.of(), Stage.FETCH, FetchReport.class)).isEmpty();
    assertThat(ProgressProtocol.read(null, Stage.FETCH, FetchReport.class)).isEmpty();
  }

  @Test
  void malformedDocumentsNameTheKey() {
    assertThatThrownBy(() -> ProgressProtocol.read(Map.of("eval.json", "{not json"), Stage.EVALUATE, EvaluationResults.class))
        .isInstanceOf(ProgressProtocol.MalformedProgressException.class).hasMessageStartingWith("eval.json: not a valid");
    assertThatThrownBy(() -> ProgressProtocol.read(Map.of("train.json", "{\"schemaVersion\":9}"), Stage.TRAIN, TrainReport.class))
        .hasMessageContaining("schemaVersion 9 is newer");
    assertThatThrownBy(() -> ProgressProtocol.read(Map.of(), Stage.TRAIN, FetchReport.class))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void evaluationDocumentsAreStampedWithTheSchemaVersionOnlyWhenWritten() {
    EvaluationResults e = new EvaluationResults();
    assertThat(e.getSchemaVersion()).as("no default: the class is also status").isNull();
    assertThat(ProgressProtocol.write(e)).contains("\"schemaVersion\":1");
    assertThat(e.getSchemaVersion()).as("the caller's object is not modified").isNull();
  }

  @Test
  void passkeyAccuracyAtALength() {
    EvaluationResults e = new EvaluationResults();
    e.getPasskey().add(new EvaluationResults.PasskeyResult(16384, 50, 1.0, 0.0));
    e.getPasskey().add(new EvaluationResults.PasskeyResult(32768, 50, 0.96, 0.0));
    assertThat(e.passkeyAccuracyAt(32768)).contains(0.96);
    assertThat(e.passkeyAccuracyAt(8192)).isEmpty();
  }
}
