package io.pose.trainer.train;

import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.ShardedTensors;
import io.pose.trainer.model.DecoderWeights;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How the parameters of a model are laid out for data parallelism and ZeRO: each unit (see
 * io.pose.trainer.model.Parameters: the root, then one per decoder layer) is one flat fp32 buffer holding its
 * parameters one after another, each starting on a 64-byte boundary (views of it then are aligned like separately
 * allocated tensors, so kernels take the same paths), padded so that it splits into equal, aligned shards: rank r
 * owns elements [r x shardSize, (r + 1) x shardSize). The layout is internal: checkpoints store pieces of named
 * parameters, so any layout can read any other's.
 */
public final class ShardLayout {

  /** Alignment of every parameter and shard, in fp32 elements (64 bytes). */
  static final int ALIGN = 16;

  /** A parameter inside its unit's flat buffer. */
  public record Param(String name, long[] shape, long offset, long numel) {}

  /**
   * A unit: its parameters, its flat size (a multiple of the world size x ALIGN) and the size of each rank's shard.
   */
  public record Unit(int index, String name, List<Param> params, long flatSize, long shardSize) {}

  /**
   * A contiguous piece of a parameter inside a range of its unit's flat buffer.
   *
   * @param param the parameter
   * @param begin the first element of the parameter (flattened) the piece holds
   * @param count how many
   * @param at where the piece starts, counted from the start of the range asked for
   */
  public record Piece(Param param, long begin, long count, long at) {
    /** The piece as stored in a checkpoint, under its parameter's name with the given prefix. */
    ShardedTensors.Piece stored(String prefix) {
      return new ShardedTensors.Piece(prefix + param.name(), param.shape(), begin, count);
    }
  }

  private final List<Unit> units;

  private ShardLayout(List<Unit> units) {
    this.units = units;
  }

  public static ShardLayout of(ModelConfig config, int world) {
    if (world < 1) {
      throw new IllegalArgumentException("a world of " + world + " ranks");
    }
    Map<String, long[]> shapes = DecoderWeights.expectedShapes(config);
    List<List<String>> names = DecoderWeights.units(config);
    List<Unit> units = new ArrayList<>();
    for (int u = 0; u < names.size(); u++) {
      List<Param> params = new ArrayList<>();
      long offset = 0;
      for (String name : names.get(u)) {
        long[] shape = shapes.get(name);
        long numel = 1;
        for (long d : shape) {
          numel *= d;
        }
        params.add(new Param(name, shape, offset, numel));
        offset = align(offset + numel, ALIGN);
      }
      long flat = align(Math.max(offset, 1), (long) ALIGN * world);
      units.add(new Unit(u, u == 0 ? "root" : "layers." + (u - 1), List.copyOf(params), flat, flat / world));
    }
    return new ShardLayout(List.copyOf(units));
  }

  static long align(long n, long to) {
    return (n + to - 1) / to * to;
  }

  public List<Unit> units() {
    return units;
  }

  /** The pieces of parameters inside flat elements [from, to) of a unit. */
  public static List<Piece> pieces(Unit unit, long from, long to) {
    List<Piece> out = new ArrayList<>();
    for (Param p : unit.params()) {
      long begin = Math.max(from, p.offset());
      long end = Math.min(to, p.offset() + p.numel());
      if (begin < end) {
        out.add(new Piece(p, begin - p.offset(), end - begin, begin - from));
      }
    }
    return out;
  }
}
