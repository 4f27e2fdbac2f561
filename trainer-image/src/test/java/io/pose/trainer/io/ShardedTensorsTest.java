package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.trainer.io.ShardedTensors.Piece;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pieces of tensors spread over the files the ranks of a sharded run write: written a chunk at a time, read back in
 * any range across pieces and in any file order, and every way a set of files can fail to cover a tensor exactly
 * once refused with a message naming the file, the tensor and the elements.
 */
class ShardedTensorsTest {

  static final long[] W = {2, 5};

  /** A piece's values are its elements' indices in the whole tensor, so any read shows where it came from. */
  static float[] indices(Piece p, long from, int count) {
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      v[i] = p.offset() + from + i;
    }
    return v;
  }

  static float[] range(int from, int to) {
    float[] v = new float[to - from];
    for (int i = 0; i < v.length; i++) {
      v[i] = from + i;
    }
    return v;
  }

  static Path shard(Path file, Piece... pieces) throws IOException {
    ShardedTensors.write(file, List.of(pieces), Map.of(), ShardedTensorsTest::indices);
    return file;
  }

  static String openError(List<Path> paths) throws IOException {
    try (ShardedTensors t = ShardedTensors.open(paths, "step 7")) {
      throw new AssertionError("opened " + t.tensors().keySet());
    } catch (CheckpointException e) {
      return e.getMessage();
    }
  }

  @Test
  void piecesOfTwoRanksReadBackInAnyRangeAndFileOrder(@TempDir Path tmp) throws IOException {
    Path rank0 = shard(tmp.resolve("rank0.safetensors"), new Piece("w", W, 0, 4));
    Path rank1 = shard(tmp.resolve("rank1.safetensors"), new Piece("w", W, 4, 6), new Piece("b", new long[] {3}, 0, 3));
    for (List<Path> order : List.of(List.of(rank0, rank1), List.of(rank1, rank0))) {
      try (ShardedTensors t = ShardedTensors.open(order, "step 7")) {
        assertThat(t.describe()).isEqualTo("step 7");
        assertThat(t.tensors()).containsOnlyKeys("w", "b");
        assertThat(t.tensors().get("w")).containsExactly(2, 5);
        assertThat(t.shape("w")).containsExactly(2, 5);
        assertThat(t.shape("b")).containsExactly(3);
        assertThat(t.has("w")).isTrue();
        assertThat(t.has("no-such-tensor")).isFalse();
        assertThat(t.floats("w", 0, 10)).containsExactly(range(0, 10));
        assertThat(t.floats("w", 2, 6)).as("across the two ranks' pieces").containsExactly(range(2, 8));
        assertThat(t.floats("w", 4, 6)).as("exactly the second piece").containsExactly(range(4, 10));
        assertThat(t.floats("w", 3, 1)).containsExactly(3f);
        assertThat(t.floats("b", 0, 3)).containsExactly(0f, 1f, 2f);
        assertThatThrownBy(() -> t.floats("no-such-tensor", 0, 1)).hasMessage("step 7: no tensor no-such-tensor");
        assertThatThrownBy(() -> t.shape("no-such-tensor")).hasMessage("step 7: no tensor no-such-tensor");
      }
    }
  }

  @Test
  void aPieceLiesInsideItsTensorAndHoldsAtLeastOneElement() {
    assertThat(new Piece("w", W, 6, 4).count()).as("up to the last element").isEqualTo(4);
    assertThat(new Piece("w", W, 0, 10).offset()).isZero();
    assertThat(new Piece("s", new long[0], 0, 1).count()).as("a scalar is one element").isEqualTo(1);
    assertThatThrownBy(() -> new Piece("w", W, 3, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("w: piece [3, 3) of 10 elements");
    assertThatThrownBy(() -> new Piece("w", W, 8, 3)).hasMessage("w: piece [8, 11) of 10 elements");
    assertThatThrownBy(() -> new Piece("w", W, 0, 11)).hasMessage("w: piece [0, 11) of 10 elements");
    assertThatThrownBy(() -> new Piece("w", W, -1, 2)).hasMessage("w: piece [-1, 1) of 10 elements");
    assertThatThrownBy(() -> new Piece("w", W, 2, -1)).hasMessage("w: piece [2, 1) of 10 elements");
  }

  @Test
  void piecesMustCoverEachTensorExactlyOnce(@TempDir Path tmp) throws IOException {
    Path first = shard(tmp.resolve("first.safetensors"), new Piece("w", W, 0, 4));
    Path overlapping = shard(tmp.resolve("overlapping.safetensors"), new Piece("w", W, 3, 7));
    Path late = shard(tmp.resolve("late.safetensors"), new Piece("w", W, 6, 4));
    Path rest = shard(tmp.resolve("rest.safetensors"), new Piece("w", W, 4, 6));
    assertThat(openError(List.of(first, overlapping))).isEqualTo(overlapping + ": w overlaps another shard at element 3");
    assertThat(openError(List.of(overlapping, first))).isEqualTo(overlapping + ": w overlaps another shard at element 3");
    assertThat(openError(List.of(first, late)))
        .isEqualTo(late + ": w is missing elements [4, 6) (is a shard missing?)");
    assertThat(openError(List.of(rest))).isEqualTo(rest + ": w is missing elements [0, 4) (is a shard missing?)");
    assertThat(openError(List.of(first))).isEqualTo("step 7: w is missing elements [4, 10) (is a shard missing?)");
    assertThat(openError(List.of(first, rest, rest))).isEqualTo(rest + ": w overlaps another shard at element 4");
    assertThat(openError(List.of(first, tmp.resolve("absent.safetensors")))).isEqualTo(tmp.resolve("absent.safetensors")
        + ": the shard is missing (a rank did not write it, or it was deleted)");
  }

  @Test
  void everyFileMustBeAShardWhosePieceTableMatchesItsTensors(@TempDir Path tmp) throws IOException {
    Path first = shard(tmp.resolve("first.safetensors"), new Piece("w", W, 0, 4));

    Path plain = tmp.resolve("plain.safetensors");
    SafetensorsWriter.write(plain, List.of(TensorData.f32("w", new long[] {6}, new float[6])), Map.of());
    assertThat(openError(List.of(first, plain)))
        .isEqualTo(plain + ": no pose.pieces metadata: not a shard of a sharded checkpoint");

    Path garbled = tmp.resolve("garbled.safetensors");
    SafetensorsWriter.write(garbled, List.of(TensorData.f32("w", new long[] {6}, new float[6])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":"));
    assertThat(openError(List.of(garbled))).isEqualTo(garbled + ": the pose.pieces metadata is not valid JSON");

    Path listsMore = tmp.resolve("lists-more.safetensors");
    SafetensorsWriter.write(listsMore, List.of(TensorData.f32("w", new long[] {6}, new float[6])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":{\"offset\":4,\"shape\":[2,5]},\"v\":{\"offset\":0,\"shape\":[1]}}"));
    assertThat(openError(List.of(first, listsMore)))
        .isEqualTo(listsMore + ": the piece table lists v, the file does not hold it");

    Path listsLess = tmp.resolve("lists-less.safetensors");
    SafetensorsWriter.write(listsLess, List.of(TensorData.f32("w", new long[] {6}, new float[6]),
        TensorData.f32("v", new long[] {1}, new float[1])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":{\"offset\":4,\"shape\":[2,5]}}"));
    assertThat(openError(List.of(first, listsLess))).isEqualTo(listsLess + ": tensor v is not in the piece table");

    Path reshaped = shard(tmp.resolve("reshaped.safetensors"), new Piece("w", new long[] {10}, 4, 6));
    assertThat(openError(List.of(first, reshaped)))
        .isEqualTo(reshaped + ": w has shape [10] here, [2, 5] in another shard");

    Path halves = tmp.resolve("halves.safetensors");
    SafetensorsWriter.write(halves, List.of(TensorData.bf16("w", new long[] {6}, new float[6])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":{\"offset\":4,\"shape\":[2,5]}}"));
    assertThat(openError(List.of(first, halves))).isEqualTo(halves + ": piece w is BF16[6], expected a 1-d F32 piece");

    Path matrix = tmp.resolve("matrix.safetensors");
    SafetensorsWriter.write(matrix, List.of(TensorData.f32("w", new long[] {2, 3}, new float[6])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":{\"offset\":4,\"shape\":[2,5]}}"));
    assertThat(openError(List.of(first, matrix))).isEqualTo(matrix + ": piece w is F32[2, 3], expected a 1-d F32 piece");

    Path noOffset = tmp.resolve("no-offset.safetensors");
    SafetensorsWriter.write(noOffset, List.of(TensorData.f32("w", new long[] {6}, new float[6])),
        Map.of(ShardedTensors.PIECES_KEY, "{\"w\":{\"shape\":[2,5]}}"));
    assertThat(openError(List.of(first, noOffset))).isEqualTo(noOffset + ": w overlaps another shard at element -1");

    Path scalar = tmp.resolve("scalar.safetensors");
    SafetensorsWriter.write(scalar, List.of(TensorData.f32("s", new long[] {1}, new float[] {7})),
        Map.of(ShardedTensors.PIECES_KEY, "{\"s\":{\"offset\":0}}"));
    try (ShardedTensors t = ShardedTensors.open(List.of(scalar), "step 7")) {
      assertThat(t.shape("s")).as("no shape: a scalar").isEmpty();
      assertThat(t.floats("s", 0, 1)).containsExactly(7f);
    }
  }

  @Test
  void writesTheTableAndTheMetadataAndProducesValuesAChunkAtATime(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("rank1.safetensors");
    List<String> produced = new ArrayList<>();
    ShardedTensors.write(file, List.of(new Piece("w", W, 0, 10), new Piece("b", new long[] {3}, 1, 2)),
        Map.of("step", "7"), (p, from, count) -> {
          produced.add(p.name() + " " + from + "+" + count);
          return indices(p, from, count);
        }, 4);
    assertThat(produced).containsExactly("b 0+2", "w 0+4", "w 4+4", "w 8+2");
    String header = SafetensorsWriter.headerText(Files.readAllBytes(file));
    assertThat(header.length() % 8).as("padded to 8 bytes").isZero();
    assertThat(header.strip()).as("the piece table in __metadata__, after the caller's entries; tensors by name")
        .startsWith("{\"__metadata__\":{\"step\":\"7\",\"pose.pieces\":\"{\\\"w\\\":")
        .endsWith("\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[8,48]}}");
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      Map<String, String> meta = new LinkedHashMap<>(f.metadata());
      assertThat(meta).containsOnlyKeys("step", ShardedTensors.PIECES_KEY).containsEntry("step", "7");
      assertThat(meta.get(ShardedTensors.PIECES_KEY))
          .isEqualTo("{\"w\":{\"offset\":0,\"shape\":[2,5]},\"b\":{\"offset\":1,\"shape\":[3]}}");
      assertThat(f.floats("w")).containsExactly(range(0, 10));
      assertThat(f.floats("b")).containsExactly(1f, 2f);
    }

    Path whole = tmp.resolve("whole.safetensors");
    ShardedTensors.write(whole, List.of(new Piece("w", W, 0, 10), new Piece("b", new long[] {3}, 1, 2)),
        Map.of("step", "7"), ShardedTensorsTest::indices);
    assertThat(Files.readAllBytes(whole)).as("the same file in one chunk").isEqualTo(Files.readAllBytes(file));
  }

  @Test
  void refusesTwoPiecesOfATensorAndTooFewValues(@TempDir Path tmp) {
    Path file = tmp.resolve("rank0.safetensors");
    assertThatThrownBy(() -> ShardedTensors.write(file, List.of(new Piece("w", W, 0, 4), new Piece("w", W, 4, 6)),
        Map.of(), ShardedTensorsTest::indices)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage(file + ": two pieces of w");
    assertThatThrownBy(() -> ShardedTensors.write(file, List.of(new Piece("w", W, 0, 10)), Map.of(),
        (p, from, count) -> new float[count - 1], 4)).isInstanceOf(IllegalStateException.class)
        .hasMessage("w: 3 values for 4 of a piece");
    assertThat(file).doesNotExist();
  }

  /** Opening closes what it opened when a later file is refused; closing releases every file. */
  @Test
  void refusedAndClosedShardsHoldNoDescriptor(@TempDir Path tmp) throws IOException {
    Path rank0 = shard(tmp.resolve("rank0.safetensors"), new Piece("w", W, 0, 4));
    Path rank1 = shard(tmp.resolve("rank1.safetensors"), new Piece("w", W, 4, 6));
    Path absent = tmp.resolve("rank2.safetensors");
    int before = OpenFiles.count();
    assertThat(before).as("/proc/self/fd is readable").isPositive();
    for (int i = 0; i < 100; i++) {
      assertThatThrownBy(() -> ShardedTensors.open(List.of(rank0, rank1, absent), "step 7"))
          .hasMessageContaining("the shard is missing");
      assertThatThrownBy(() -> ShardedTensors.open(List.of(rank0), "step 7"))
          .hasMessageContaining("is missing elements [4, 10)");
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);

    ShardedTensors t = ShardedTensors.open(List.of(rank0, rank1), "step 7");
    assertThat(t.floats("w", 0, 10)).containsExactly(range(0, 10));
    t.close();
    assertThatThrownBy(() -> t.floats("w", 0, 1)).isInstanceOf(ClosedChannelException.class);
    assertThatThrownBy(() -> t.floats("w", 9, 1)).isInstanceOf(ClosedChannelException.class);
  }
}
