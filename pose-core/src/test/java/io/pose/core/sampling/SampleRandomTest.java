package io.pose.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The random stream of a sample is part of a checkpoint's meaning: a run resumed by a later release must draw the
 * same samples as the one that wrote the checkpoint. These values pin the stream (SplitMix64 of the seed, then of
 * the index); a change to them breaks resuming across releases and must come with a new run identity.
 */
class SampleRandomTest {

  @Test
  void theStreamOfASampleIsPinnedAcrossReleases() {
    assertThat(SampleRandom.of(42, 0).nextLong()).isEqualTo(6168158941143839527L);
    assertThat(SampleRandom.of(42, 1).nextLong()).isEqualTo(7382028192048325405L);
    assertThat(SampleRandom.of(42, 1000).nextLong()).isEqualTo(7024320662016480978L);
    assertThat(SampleRandom.of(-7, 3).nextLong()).isEqualTo(-3833796701592836692L);
  }

  @Test
  void betweenIsInclusiveAtBothEndsAndRefusesAnEmptyRange() {
    SplittableRandom r = SampleRandom.of(5, 9);
    assertThat(SampleRandom.between(r, 3, 3)).isEqualTo(3);
    assertThat(SampleRandom.between(r, 1, 100)).isEqualTo(83);
    boolean low = false;
    boolean high = false;
    for (int i = 0; i < 1000; i++) {
      int v = SampleRandom.between(r, 1, 3);
      assertThat(v).isBetween(1, 3);
      low |= v == 1;
      high |= v == 3;
    }
    assertThat(low && high).isTrue();
    assertThatThrownBy(() -> SampleRandom.between(new SplittableRandom(1), 4, 3))
        .hasMessageContaining("empty range [4, 3]");
  }
}
