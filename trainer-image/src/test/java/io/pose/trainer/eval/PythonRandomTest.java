package io.pose.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Values CPython 3.11's random.Random printed for the same seeds and calls. */
class PythonRandomTest {

  static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  @Test
  void matchesCPython() {
    PythonRandom r = new PythonRandom(1234);
    assertThat(List.of(r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)))
        .containsExactly(4150886329L, 3342196574L, 1892932127L);

    r = new PythonRandom(1234);
    assertThat(r.sample(range(10), 4)).containsExactly(7, 1, 0, 9); // pool method
    assertThat(r.sample(range(100), 7)).containsExactly(74, 4, 85, 88, 10, 12, 98); // set method
    assertThat(r.sample(range(5), 3)).containsExactly(2, 1, 0);

    // a seed wider than 32 bits is split into words
    assertThat(new PythonRandom((1L << 40) + 5).getrandbits(32)).isEqualTo(2166296868L);
  }
}
