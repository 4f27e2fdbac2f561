package io.pose.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * The keys and values of every layer for the tokens run so far ({@link Decoder#forwardCached}): per layer a
 * [1, kvHeads, capacity, headDim] buffer, after RoPE, filled in place up to {@link #length()}, so that decoding a
 * token copies nothing already cached. Its tensors live in a manager of their own, freed by {@link #close}.
 */
public final class KvCache implements AutoCloseable {

  private final NDManager manager;
  private final int capacity;
  private final NDArray[] keys;
  private final NDArray[] values;
  private int length;

  KvCache(NDManager parent, int layers, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("a cache holds at least one token, not " + capacity);
    }
    this.manager = parent.newSubManager();
    this.capacity = capacity;
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  /** Tokens held. */
  public int length() {
    return length;
  }

  /** Tokens it can hold. */
  public int capacity() {
    return capacity;
  }

  /** Writes k [1, kvHeads, n, d] after what the cache holds; returns the keys so far (a view, owned by k's manager). */
  NDArray appendKeys(int layer, NDArray k) {
    return append(keys, layer, k);
  }

  NDArray appendValues(int layer, NDArray v) {
    return append(values, layer, v);
  }

  private NDArray append(NDArray[] store, int layer, NDArray added) {
    Shape s = added.getShape();
    long n = s.get(2);
    if (length + n > capacity) {
      throw new IllegalStateException("the cache holds " + capacity + " tokens; " + length + " + " + n + " do not fit");
    }
    if (store[layer] == null) {
      store[layer] = manager.zeros(new Shape(s.get(0), s.get(1), capacity, s.get(3)), added.getDataType(),
          added.getDevice());
    }
    store[layer].set(new NDIndex(":, :, {}:{}", length, length + n), added);
    NDArray view = store[layer].get(new NDIndex(":, :, :{}", length + n));
    view.attach(added.getManager());
    return view;
  }

  void advance(int tokens) {
    length += tokens;
  }

  @Override
  public void close() {
    manager.close();
  }
}
