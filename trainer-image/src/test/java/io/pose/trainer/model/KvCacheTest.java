package io.pose.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/**
 * The decoding cache: keys and values written after what it holds, read back as a view of everything so far, up to
 * exactly its capacity and not one token more; its memory freed when it is closed, the views handed out living with
 * their callers.
 */
class KvCacheTest {

  static NDArray tokens(NDManager m, int n, float first) {
    float[] v = new float[2 * n * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = first + i;
    }
    return m.create(v, new Shape(1, 2, n, 3)); // [batch, kv heads, tokens, head dim]
  }

  @Test
  void holdsUpToExactlyItsCapacity() {
    try (NDManager m = NDManager.newBaseManager(); KvCache cache = new KvCache(m, 2, 5)) {
      assertThat(cache.capacity()).isEqualTo(5);
      NDArray k1 = cache.appendKeys(1, tokens(m, 3, 0));
      assertThat(k1.getShape()).isEqualTo(new Shape(1, 2, 3, 3));
      cache.advance(3);
      NDArray k2 = cache.appendKeys(1, tokens(m, 2, 100));
      cache.advance(2);
      assertThat(cache.length()).isEqualTo(5);
      assertThat(k2.getShape()).isEqualTo(new Shape(1, 2, 5, 3));
      // head 0: the first three tokens, then the two added
      assertThat(k2.get("0, 0, 2, :").toFloatArray()).containsExactly(6f, 7f, 8f);
      assertThat(k2.get("0, 0, 3, :").toFloatArray()).containsExactly(100f, 101f, 102f);
      assertThat(k2.get("0, 1, 4, :").toFloatArray()).containsExactly(109f, 110f, 111f);
      assertThatThrownBy(() -> cache.appendKeys(1, tokens(m, 1, 0))).isInstanceOf(IllegalStateException.class)
          .hasMessage("the cache holds 5 tokens; 5 + 1 do not fit");
    }
  }

  @Test
  void aCacheHoldsAtLeastOneToken() {
    try (NDManager m = NDManager.newBaseManager()) {
      try (KvCache one = new KvCache(m, 1, 1)) {
        assertThat(one.appendValues(0, tokens(m, 1, 0)).getShape()).isEqualTo(new Shape(1, 2, 1, 3));
      }
      assertThatThrownBy(() -> new KvCache(m, 1, 0)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("a cache holds at least one token, not 0");
    }
  }

  /** Closing the cache frees its buffers; a view it handed out belongs to the caller's manager. */
  @Test
  void closingFreesTheCacheAndTheViewsLiveWithTheirCallers() {
    try (NDManager m = NDManager.newBaseManager()) {
      int before = m.getManagedArrays().size();
      NDArray view;
      try (NDManager caller = m.newSubManager()) {
        KvCache cache = new KvCache(m, 1, 4);
        NDArray added = tokens(caller, 2, 0);
        view = cache.appendKeys(0, added);
        assertThat(view.getManager()).isSameAs(caller);
        cache.close();
        assertThat(m.getManagedArrays()).as("the cache's buffers are freed").hasSize(before + 2);
      }
      assertThat(view.isReleased()).as("freed with the caller's scope").isTrue();
      assertThat(m.getManagedArrays()).hasSize(before);
    }
  }
}
