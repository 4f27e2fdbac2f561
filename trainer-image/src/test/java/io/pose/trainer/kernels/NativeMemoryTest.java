package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The aliased buffer is the tensor's own memory, both ways; the thread count is libtorch's. */
class NativeMemoryTest {

  @Test
  void aliasReadsAndWritesTheTensorInPlace() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray t = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      ByteBuffer b = NativeMemory.alias(t);
      assertThat(b.isDirect()).isTrue();
      assertThat(b.capacity()).isEqualTo(16);
      assertThat(b.getFloat(8)).isEqualTo(3f);
      b.putFloat(4, 20f); // as a collective writing its result
      assertThat(t.toFloatArray()).containsExactly(1f, 20f, 3f, 4f);
      t.addi(m.create(new float[] {1, 1, 1, 1}, new Shape(2, 2)));
      assertThat(b.getFloat(0)).as("the buffer sees in-place updates").isEqualTo(2f);
    }
  }

  @Test
  void threadsAreLibtorchs() {
    int before = NativeMemory.threads();
    try {
      NativeMemory.setThreads(2);
      assertThat(NativeMemory.threads()).isEqualTo(2);
    } finally {
      NativeMemory.setThreads(before);
    }
  }
  /** One buffer holds at most 2^31 - 1 bytes (tested on broadcast tensors: the shape counts, no memory is used). */
  @Test
  void aliasTakesTensorsOfUpToTwoGibibytesLessOneByte() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray bytes = m.zeros(new Shape(1), ai.djl.ndarray.types.DataType.INT8).broadcast(new Shape(Integer.MAX_VALUE));
      // within the size rule: refused only by libtorch, because a broadcast tensor is not contiguous
      assertThatThrownBy(() -> NativeMemory.alias(bytes)).isInstanceOf(ai.djl.engine.EngineException.class)
          .hasMessageContaining("contiguous");
      NDArray floats = m.zeros(new Shape(1)).broadcast(new Shape((1L << 29) + 1));
      assertThatThrownBy(() -> NativeMemory.alias(floats)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("a tensor of 2147483652 bytes cannot be aliased by one buffer (2 GiB at most): split it");
    }
  }

  /** The head of a tensor is its first element, in place, whatever its rank; an empty tensor has none. */
  @Test
  void theHeadIsTheFirstElementInPlace() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray matrix = m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
      ByteBuffer head = NativeMemory.head(matrix);
      assertThat(head.capacity()).isEqualTo(4);
      head.putFloat(0, 10f);
      assertThat(matrix.toFloatArray()).containsExactly(10f, 2f, 3f, 4f, 5f, 6f);
      NDArray vector = m.create(new float[] {7, 8});
      NativeMemory.head(vector).putFloat(0, 70f);
      assertThat(vector.toFloatArray()).containsExactly(70f, 8f);
      assertThatThrownBy(() -> NativeMemory.head(m.create(new float[0])))
          .isInstanceOf(IllegalArgumentException.class).hasMessage("an empty tensor has no data pointer to pass on");
    }
  }

  /** Values go in and out of fp32 tensors only, as many as the tensor holds. */
  @Test
  void writesAndReadsFp32TensorsOnly() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray t = m.zeros(new Shape(3));
      NativeMemory.write(t, new float[] {1, 2, 3});
      assertThat(NativeMemory.floats(t)).containsExactly(1f, 2f, 3f);
      NDArray ints = m.create(new int[] {1, 2, 3});
      assertThatThrownBy(() -> NativeMemory.write(ints, new float[] {1, 2, 3}))
          .isInstanceOf(IllegalArgumentException.class).hasMessage("collectives move fp32 tensors, not int32");
      assertThatThrownBy(() -> NativeMemory.floats(ints)).hasMessage("collectives move fp32 tensors, not int32");
      assertThatThrownBy(() -> NativeMemory.write(t, new float[] {1, 2}))
          .hasMessage("writing 2 values into a tensor of (3)");
    }
  }

  @Test
  void atLeastOneThread() {
    int before = NativeMemory.threads();
    try {
      NativeMemory.setThreads(1);
      assertThat(NativeMemory.threads()).isEqualTo(1);
      assertThatThrownBy(() -> NativeMemory.setThreads(0)).hasMessage("threads must be at least 1, not 0");
    } finally {
      NativeMemory.setThreads(before);
    }
  }
}
