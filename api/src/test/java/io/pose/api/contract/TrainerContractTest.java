package io.pose.api.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.api.v1alpha1.Stage;
import org.junit.jupiter.api.Test;

class TrainerContractTest {

  @Test
  void stageCommandsAreTheCliSubcommands() {
    assertThat(TrainerContract.command(Stage.TRAIN)).containsExactly("pose", "train", "--config", "/etc/pose/config.yaml");
    assertThat(TrainerContract.command(Stage.EVALUATE)).containsExactly("pose", "eval", "--config", "/etc/pose/config.yaml");
    assertThat(TrainerContract.args(Stage.PUBLISH)).containsExactly("publish", "--config", "/etc/pose/config.yaml");
  }

  @Test
  void exitCodesAreDistinctAndOnlyRuntimeFailuresAreRetried() {
    assertThat(ExitCode.values()).extracting(ExitCode::code).doesNotHaveDuplicates();
    assertThat(ExitCode.permanentCodes()).containsExactly(2, 3, 4, 5);
    assertThat(ExitCode.of(2)).contains(ExitCode.INVALID_CONFIGURATION);
    assertThat(ExitCode.of(137)).isEmpty();
    assertThat(ExitCode.RUNTIME_FAILURE.permanent()).isFalse();
  }
}
