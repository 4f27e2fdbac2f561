package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;

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
}
