package io.pose.trainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.TensorSource;
import io.pose.trainer.kernels.FusedOps;
import io.pose.trainer.model.Parameters;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of one data-parallel rank under a ZeRO stage, and what happens around each unit of the model
 * (the {@link Parameters} seam): the decoder sees ordinary weights and knows nothing of this.
 *
 * <ul>
 *   <li>Stage 0: every rank holds all weights, gradients and AdamW moments; gradients are all-reduced once a step.
 *   <li>Stage 1: the fp32 master weights and the moments are sharded: each rank updates its shard of every unit,
 *       then the shards are all-gathered back into the replicated weights the forward uses.
 *   <li>Stage 2: gradients are sharded as well: right after a unit's backward its gradients are reduce-scattered
 *       (asynchronously, overlapping the next unit's backward) and only this rank's shard is accumulated.
 *   <li>Stage 3: the weights too: each rank keeps only its shard; a unit's weights are all-gathered just before its
 *       forward (the next unit's gather started ahead, so it overlaps compute) and freed after it; with activation
 *       recomputation they are gathered again before the unit's backward and freed after it, so at most two units
 *       are whole at a time. Without recomputation a unit's forward graph holds its weights until its backward.
 * </ul>
 *
 * Weights are fp32 (they are the master weights; the compute precision is applied at each product, see
 * io.pose.trainer.kernels.ComputeType), so every stage computes exactly what one rank accumulating the whole step
 * computes, up to the order of the sums over ranks. Leaves are fresh views of the flat buffers for each
 * micro-batch, so their gradients are freed as soon as they are taken.
 */
public final class ZeroModel implements Parameters, AutoCloseable {

  private final ShardLayout layout;
  private final int stage;
  private final Collective collective;
  private final int rank;
  private final int world;
  private final NDManager manager;
  private final boolean recompute;
  private final int lastLayerUnit;

  /** Stages 0-2: each unit's whole flat weights (replicated). */
  private final NDArray[] full;
  /** The flat weights this rank updates: the whole unit (stage 0), a view of full (1, 2) or its own shard (3). */
  private final NDArray[] owned;
  /** Stage 3: a unit's whole weights while it is in use, and gathers in flight. */
  private final NDArray[] gathered;
  private final Collective.Pending[] gathering;
  /** The leaf views of units in use, by parameter name, and by unit. */
  private final Map<String, NDArray> live = new HashMap<>();
  private final List<List<NDArray>> unitViews = new ArrayList<>();
  /** This step's gradients: whole units (stages 0, 1) or this rank's shards (2, 3); null until first touched. */
  private final NDArray[] grads;
  /** Reduce-scatters in flight: their buffers live until they are awaited. */
  private final ArrayDeque<Scatter> scatters = new ArrayDeque<>();
  private boolean gradientsFinished;

  private record Scatter(int unit, NDArray whole, NDArray shard, Collective.Pending pending) {}

  /**
   * Builds this rank's parameters from weights it reads in ranges (a Hugging Face model directory, or a sharded
   * checkpoint of any world size and stage).
   *
   * @param manager where the weights live (its device is the rank's device)
   * @param recompute whether the decoder recomputes activations (stage 3 then frees a unit's weights after its
   *     forward)
   */
  public static ZeroModel load(ModelConfig config, int stage, Collective collective, NDManager manager,
      boolean recompute, TensorSource source) throws IOException {
    ZeroModel m = new ZeroModel(ShardLayout.of(config, collective.worldSize()), stage, collective, manager, recompute);
    for (ShardLayout.Unit u : m.layout.units()) {
      for (ShardLayout.Param p : u.params()) {
        if (!source.has(p.name())) {
          throw new CheckpointException(source.describe() + ": tensor " + p.name() + " is missing (the config describes "
              + config.numHiddenLayers() + " layers of " + config.modelType() + ")");
        }
        if (!Arrays.equals(source.shape(p.name()), p.shape())) {
          throw new CheckpointException(source.describe() + ": tensor " + p.name() + " has shape "
              + Arrays.toString(source.shape(p.name())) + ", the config implies " + Arrays.toString(p.shape()));
        }
      }
      // stage 3 holds its shard; the others the whole unit, whose shard they update in place
      long[] owned = m.ownedRange(u);
      long[] range = stage == 3 ? owned : new long[] {0, u.flatSize()};
      float[] values = new float[Math.toIntExact(range[1] - range[0])];
      for (ShardLayout.Piece piece : ShardLayout.pieces(u, range[0], range[1])) {
        float[] part = source.floats(piece.param().name(), piece.begin(), Math.toIntExact(piece.count()));
        System.arraycopy(part, 0, values, Math.toIntExact(piece.at()), part.length);
      }
      NDArray flat = manager.create(values);
      int i = u.index();
      if (stage == 3) {
        m.owned[i] = flat;
      } else {
        m.full[i] = flat;
        m.owned[i] = stage == 0 ? flat : FusedOps.view(flat, owned[0], new long[] {owned[1] - owned[0]});
      }
    }
    return m;
  }

  private ZeroModel(ShardLayout layout, int stage, Collective collective, NDManager manager, boolean recompute) {
    if (stage < 0 || stage > 3) {
      throw new IllegalArgumentException("ZeRO stage " + stage + " is not one of 0, 1, 2, 3");
    }
    this.layout = layout;
    this.stage = stage;
    this.collective = collective;
    this.rank = collective.rank();
    this.world = collective.worldSize();
    this.manager = manager;
    this.recompute = recompute;
    int n = layout.units().size();
    this.lastLayerUnit = n - 1;
    this.full = new NDArray[n];
    this.owned = new NDArray[n];
    this.gathered = new NDArray[n];
    this.gathering = new Collective.Pending[n];
    this.grads = new NDArray[n];
    for (int i = 0; i < n; i++) {
      unitViews.add(new ArrayList<>());
    }
  }

  public ShardLayout layout() {
    return layout;
  }

  public int stage() {
    return stage;
  }

  public Collective collective() {
    return collective;
  }

  /** The flat elements of a unit this rank updates (and saves). */
  long[] ownedRange(ShardLayout.Unit u) {
    return stage == 0 ? new long[] {0, u.flatSize()}
        : new long[] {rank * u.shardSize(), (rank + 1) * u.shardSize()};
  }

  // ---- the Parameters seam ----

  @Override
  public NDArray get(String name) {
    NDArray v = live.get(name);
    if (v == null) {
      throw new IllegalStateException("parameter " + name + " is not gathered now (rank " + rank + ", ZeRO stage "
          + stage + ")");
    }
    return v;
  }

  @Override
  public boolean layerwise() {
    return stage >= 2;
  }

  @Override
  public void beforeForward(int unit) {
    gradientsFinished = false;
    if (stage == 3) {
      gather(unit);
      int next = unit + 1;
      if (next <= lastLayerUnit) {
        startGather(next);
      }
    }
    makeLeaves(unit);
  }

  @Override
  public void afterForward(int unit) {
    // stage 3 with recomputation: the forward kept no graph, so the weights can go until the backward needs them
    // (the last layer's backward comes next: it stays)
    if (stage == 3 && recompute && unit != lastLayerUnit) {
      dropLeaves(unit);
      release(unit);
    }
  }

  @Override
  public void beforeBackward(int unit) {
    if (stage == 3) {
      gather(unit);
      int next = unit - 1;
      if (next >= 1) {
        startGather(next);
      }
    }
    makeLeaves(unit);
  }

  @Override
  public void afterBackward(int unit) {
    if (stage <= 1) {
      return; // the leaves live for the whole step: autograd sums the micro-batches' gradients into them
    }
    ShardLayout.Unit u = layout.units().get(unit);
    NDArray whole = packGradients(unit);
    dropLeaves(unit);
    if (stage == 3) {
      release(unit);
    }
    // this rank's shard of the sum over ranks; the scatter overlaps the next unit's backward
    NDArray shard = manager.create(new Shape(u.shardSize()), DataType.FLOAT32);
    Collective.Pending pending = collective.reduceScatterAsync(whole, shard);
    if (!scatters.isEmpty()) {
      finishScatter(scatters.poll());
    }
    scatters.add(new Scatter(unit, whole, shard, pending));
  }

  /** The gradients of a unit's leaves, packed into a new flat buffer laid out like its weights (zero padding). */
  private NDArray packGradients(int unit) {
    ShardLayout.Unit u = layout.units().get(unit);
    List<NDArray> views = unitViews.get(unit);
    List<NDArray> g = new ArrayList<>();
    long[] offsets = new long[views.size()];
    try {
      for (int i = 0; i < views.size(); i++) {
        NDArray view = views.get(i);
        if (!view.hasGradient()) {
          throw new IllegalStateException(u.params().get(i).name() + " got no gradient in the backward");
        }
        g.add(view.getGradient());
        offsets[i] = u.params().get(i).offset();
      }
      NDArray whole = manager.zeros(new Shape(u.flatSize()), DataType.FLOAT32);
      FusedOps.pack(whole, g, offsets);
      return whole;
    } finally {
      g.forEach(NDArray::close);
    }
  }

  private void finishScatter(Scatter s) {
    s.pending().await();
    s.whole().close();
    if (grads[s.unit()] == null) {
      grads[s.unit()] = s.shard();
    } else {
      grads[s.unit()].addi(s.shard());
      s.shard().close();
    }
  }

  private void makeLeaves(int unit) {
    List<NDArray> views = unitViews.get(unit);
    if (!views.isEmpty()) {
      return;
    }
    NDArray flat = stage == 3 ? gathered[unit] : full[unit];
    for (ShardLayout.Param p : layout.units().get(unit).params()) {
      NDArray view = FusedOps.view(flat, p.offset(), p.shape());
      view.setRequiresGradient(true);
      views.add(view);
      live.put(p.name(), view);
    }
  }

  private void dropLeaves(int unit) {
    for (ShardLayout.Param p : layout.units().get(unit).params()) {
      live.remove(p.name());
    }
    unitViews.get(unit).forEach(NDArray::close);
    unitViews.get(unit).clear();
  }

  /** Starts gathering a unit's weights (stage 3), unless they are whole or on their way. */
  private void startGather(int unit) {
    if (gathered[unit] != null) {
      return;
    }
    ShardLayout.Unit u = layout.units().get(unit);
    gathered[unit] = manager.create(new Shape(u.flatSize()), DataType.FLOAT32);
    gathering[unit] = collective.allGatherAsync(owned[unit], gathered[unit]);
  }

  /** Makes a unit's weights whole (stage 3): waits for its gather, starting it if nobody did. */
  private void gather(int unit) {
    startGather(unit);
    if (gathering[unit] != null) {
      gathering[unit].await();
      gathering[unit] = null;
    }
  }

  private void release(int unit) {
    if (gathering[unit] != null) {
      gathering[unit].await();
      gathering[unit] = null;
    }
    if (gathered[unit] != null) {
      gathered[unit].close();
      gathered[unit] = null;
    }
  }

  /** The units whose weights are gathered now or on their way (stage 3), in order: what the schedule holds. */
  List<Integer> gatheredUnits() {
    List<Integer> units = new ArrayList<>();
    for (int i = 0; i < gathered.length; i++) {
      if (gathered[i] != null) {
        units.add(i);
      }
    }
    return units;
  }

  private static void quietly(Collective.Pending pending) {
    if (pending != null) {
      try {
        pending.await();
      } catch (RuntimeException e) {
        // the group is broken: the operation will not write any more
      }
    }
  }

  // ---- the step ----

  /**
   * Completes the step's gradients on every rank: all-reduces the whole units (stages 0, 1) or waits for the last
   * reduce-scatters (2, 3). Afterwards {@link #ownedGradients} hold this rank's part of the sum over ranks.
   */
  public void finishGradients() {
    if (stage <= 1) {
      // a unit at a time: its gradients move from the leaves into one flat buffer, the leaves (and their
      // gradients) go, and the buffer is summed over the ranks
      for (int i = 0; i < grads.length; i++) {
        if (unitViews.get(i).isEmpty()) {
          throw new IllegalStateException("unit " + layout.units().get(i).name() + " has no gradients this step");
        }
        grads[i] = packGradients(i);
        dropLeaves(i);
        collective.allReduceSum(grads[i]);
      }
    } else {
      while (!scatters.isEmpty()) {
        finishScatter(scatters.poll());
      }
    }
    gradientsFinished = true;
  }

  /** This rank's flat weights by unit name (what its optimizer updates). */
  public Map<String, NDArray> ownedWeights() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (ShardLayout.Unit u : layout.units()) {
      out.put(u.name(), owned[u.index()]);
    }
    return out;
  }

  /** This rank's gradients matching {@link #ownedWeights} (after {@link #finishGradients}); the caller closes them. */
  public Map<String, NDArray> ownedGradients() {
    if (!gradientsFinished) {
      throw new IllegalStateException("the step's gradients are not complete: call finishGradients first");
    }
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (ShardLayout.Unit u : layout.units()) {
      // views: the caller's handles, over this step's gradients
      long[] r = stage == 1 ? ownedRange(u) : new long[] {0, grads[u.index()].getShape().size()};
      out.put(u.name(), FusedOps.view(grads[u.index()], r[0], new long[] {r[1] - r[0]}));
    }
    return out;
  }

  /**
   * The 2-norm of the step's whole gradient, the same on every rank: this rank's sum of squares (of everything at
   * stage 0, where every rank holds everything; of its shards otherwise, summed over ranks).
   */
  public double gradientNorm(Map<String, NDArray> ownedGradients) {
    double local = 0;
    for (NDArray g : ownedGradients.values()) {
      try (NDArray n = FusedOps.globalNorm(List.of(g))) {
        double v = n.getFloat();
        local += v * v;
      }
    }
    if (stage > 0 && world > 1) {
      local = collective.allReduce(new double[] {local}, Collective.Op.SUM)[0];
    }
    return Math.sqrt(local);
  }

  /** After the optimizer updated this rank's weights: stages 1 and 2 gather the updated shards into every rank. */
  public void afterUpdate() {
    if ((stage == 1 || stage == 2) && world > 1) {
      for (ShardLayout.Unit u : layout.units()) {
        collective.allGather(owned[u.index()], full[u.index()]);
      }
    }
  }

  /** Frees the step's gradients. */
  public void endStep() {
    for (int i = 0; i < grads.length; i++) {
      if (grads[i] != null) {
        grads[i].close();
        grads[i] = null;
      }
    }
    gradientsFinished = false;
  }

  // ---- checkpoints ----

  /** The pieces of parameters this rank owns for a unit, with their place in its owned buffer. */
  List<ShardLayout.Piece> ownedPieces(ShardLayout.Unit u) {
    long[] r = ownedRange(u);
    return ShardLayout.pieces(u, r[0], r[1]);
  }

  /**
   * The pieces this rank saves: its shard of every unit at every stage (under ZeRO 0 every rank holds everything,
   * and the ranks share the writing), with their place in its owned buffer.
   */
  List<ShardLayout.Piece> savedPieces(ShardLayout.Unit u) {
    long from = rank * u.shardSize();
    List<ShardLayout.Piece> pieces = ShardLayout.pieces(u, from, from + u.shardSize());
    if (stage != 0) {
      return pieces;
    }
    List<ShardLayout.Piece> shifted = new ArrayList<>();
    for (ShardLayout.Piece p : pieces) {
      shifted.add(new ShardLayout.Piece(p.param(), p.begin(), p.count(), p.at() + from));
    }
    return shifted;
  }

  /** Values [from, from + count) of a piece of an owned flat buffer (weights or a moment of the unit). */
  static float[] values(NDArray ownedFlat, ShardLayout.Piece piece, long from, int count) {
    try (NDArray v = FusedOps.view(ownedFlat, piece.at() + from, new long[] {count})) {
      return v.toFloatArray();
    }
  }

  /**
   * Reads this rank's part of every unit of a tensor family stored under a prefix (the AdamW moments of a
   * checkpoint, "exp_avg/" and "exp_avg_sq/"), as owned flat buffers by unit name.
   */
  Map<String, NDArray> loadOwned(TensorSource source, String prefix, NDManager into) throws IOException {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (ShardLayout.Unit u : layout.units()) {
      long[] r = ownedRange(u);
      float[] values = new float[Math.toIntExact(r[1] - r[0])];
      for (ShardLayout.Piece piece : ownedPieces(u)) {
        String name = prefix + piece.param().name();
        if (!source.has(name)) {
          throw new CheckpointException(source.describe() + ": " + name + " is missing");
        }
        float[] part = source.floats(name, piece.begin(), Math.toIntExact(piece.count()));
        System.arraycopy(part, 0, values, Math.toIntExact(piece.at()), part.length);
      }
      out.put(u.name(), into.create(values));
    }
    return out;
  }

  /**
   * Every parameter's whole value, by name: a collective (every rank calls it), for tests and small models only.
   */
  public Map<String, float[]> gatherAll() {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (ShardLayout.Unit u : layout.units()) {
      float[] flat;
      if (stage == 3) {
        try (NDArray whole = manager.create(new Shape(u.flatSize()), DataType.FLOAT32)) {
          collective.allGather(owned[u.index()], whole);
          flat = whole.toFloatArray();
        }
      } else {
        flat = full[u.index()].toFloatArray();
      }
      for (ShardLayout.Param p : u.params()) {
        out.put(p.name(), Arrays.copyOfRange(flat, Math.toIntExact(p.offset()), Math.toIntExact(p.offset() + p.numel())));
      }
    }
    return out;
  }

  /**
   * Frees this rank's tensors, once the collectives still writing into them are done (after a failure they fail at
   * once: the group is aborted first).
   */
  @Override
  public void close() {
    for (int i = 0; i < gathering.length; i++) {
      quietly(gathering[i]);
      gathering[i] = null;
    }
    while (!scatters.isEmpty()) {
      Scatter s = scatters.poll();
      quietly(s.pending());
      s.whole().close();
      s.shard().close();
    }
    for (int i = 0; i < layout.units().size(); i++) {
      dropLeaves(i);
      if (gathered[i] != null) {
        gathered[i].close();
      }
      if (grads[i] != null) {
        grads[i].close();
      }
      if (owned[i] != null) {
        owned[i].close();
      }
      if (full[i] != null && full[i] != owned[i]) {
        full[i].close();
      }
    }
  }
}
