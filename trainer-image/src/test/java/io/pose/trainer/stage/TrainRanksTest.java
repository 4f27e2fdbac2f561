package io.pose.trainer.stage;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.trainer.dist.InProcessGroup;
import io.pose.trainer.train.CheckpointStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Ranks resume from one checkpoint: a node that lists another one (a stale cached listing) fails the run. */
class TrainRanksTest {

  static List<String> agree(CheckpointStore.Saved... seen) throws Exception {
    InProcessGroup group = new InProcessGroup(seen.length, Duration.ofMinutes(1));
    ExecutorService pool = Executors.newFixedThreadPool(seen.length);
    try {
      List<Future<String>> out = new ArrayList<>();
      for (int r = 0; r < seen.length; r++) {
        int rank = r;
        out.add(pool.submit(() -> {
          try {
            TrainRanks.agreeOnCheckpoint(group.member(rank), seen[rank], Path.of("/workspace/checkpoints"));
            return "agreed";
          } catch (StageException e) {
            return e.exitCode().code() + ": " + e.getMessage();
          }
        }));
      }
      List<String> results = new ArrayList<>();
      for (Future<String> f : out) {
        results.add(f.get());
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  static CheckpointStore.Saved step(int step) {
    return new CheckpointStore.Saved(step, step * 8L, Path.of("/workspace/checkpoints/step-" + step), "run", 2, 3);
  }

  @Test
  void ranksThatSeeTheSameCheckpointOrNoneAgree() throws Exception {
    assertThat(agree(step(4), step(4), step(4))).containsOnly("agreed");
    assertThat(agree(null, null)).containsOnly("agreed");
  }

  @Test
  void aRankThatSeesAnotherCheckpointFailsEveryRankWithARuntimeFailure() throws Exception {
    List<String> results = agree(step(6), step(4), step(6));
    assertThat(results).allMatch(r -> r.startsWith("1: "));
    assertThat(results.get(1)).contains("rank 1 sees checkpoint step 4").contains("other ranks see steps 4 to 6");
    assertThat(agree(step(2), null).get(1)).contains("sees checkpoint step none").contains("steps -1 to 2");
  }
}
