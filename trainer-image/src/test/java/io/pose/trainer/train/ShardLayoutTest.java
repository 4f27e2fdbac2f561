package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.core.hf.ModelConfig;
import io.pose.trainer.model.DecoderWeights;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The flat layout of each unit: every parameter on a 64-byte boundary, one after another with the least padding,
 * the unit padded to the least size that splits into equal aligned shards, and the ranks' pieces covering every
 * parameter element exactly once.
 */
class ShardLayoutTest {

  @Test
  void alignmentRoundsUpToTheNextMultiple() {
    assertThat(ShardLayout.align(0, 16)).isZero();
    assertThat(ShardLayout.align(1, 16)).isEqualTo(16);
    assertThat(ShardLayout.align(16, 16)).isEqualTo(16);
    assertThat(ShardLayout.align(17, 16)).isEqualTo(32);
    assertThat(ShardLayout.align(95, 48)).isEqualTo(96);
  }

  @Test
  void parametersAreAlignedAndUnitsSplitIntoEqualAlignedShards() {
    for (ModelConfig c : MemoryPlanCensusTest.SHAPES) {
      Map<String, long[]> shapes = DecoderWeights.expectedShapes(c);
      for (int world : new int[] {1, 2, 3, 8}) {
        ShardLayout layout = ShardLayout.of(c, world);
        assertThat(layout.units()).hasSize(c.numHiddenLayers() + 1);
        for (ShardLayout.Unit u : layout.units()) {
          assertThat(u.name()).isEqualTo(u.index() == 0 ? "root" : "layers." + (u.index() - 1));
          long end = 0;
          for (ShardLayout.Param p : u.params()) {
            assertThat(p.shape()).isEqualTo(shapes.get(p.name()));
            assertThat(p.offset() % ShardLayout.ALIGN).as(p.name()).isZero();
            assertThat(p.offset()).as("%s follows the previous parameter with the least padding", p.name())
                .isGreaterThanOrEqualTo(end).isLessThan(end + ShardLayout.ALIGN);
            end = p.offset() + p.numel();
          }
          long quantum = (long) ShardLayout.ALIGN * world;
          assertThat(u.flatSize() % quantum).isZero();
          assertThat(u.flatSize()).as("the least padded size").isGreaterThanOrEqualTo(end).isLessThan(end + quantum);
          assertThat(u.shardSize() * world).isEqualTo(u.flatSize());
          assertThat(u.shardSize() % ShardLayout.ALIGN).isZero();

          // every element of every parameter lies in exactly one rank's pieces, at its place in the shard
          long covered = 0;
          for (int r = 0; r < world; r++) {
            long from = r * u.shardSize();
            for (ShardLayout.Piece piece : ShardLayout.pieces(u, from, from + u.shardSize())) {
              assertThat(from + piece.at()).isEqualTo(piece.param().offset() + piece.begin());
              assertThat(piece.at() + piece.count()).isLessThanOrEqualTo(u.shardSize());
              covered += piece.count();
            }
          }
          assertThat(covered).isEqualTo(u.params().stream().mapToLong(ShardLayout.Param::numel).sum());
        }
      }
    }
  }

  @Test
  void aWorldHasAtLeastOneRank() {
    assertThatThrownBy(() -> ShardLayout.of(MemoryPlanCensusTest.SHAPES.get(0), 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("a world of 0 ranks");
  }
}
