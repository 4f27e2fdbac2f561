package io.pose.trainer.eval;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * CPython's {@code random.Random} for what lm-evaluation-harness draws few-shot examples with: the Mersenne Twister
 * MT19937 seeded as {@code Random(int)} seeds it (init_by_array over the seed's 32-bit words), {@code getrandbits},
 * {@code _randbelow} (rejection over bit_length bits) and {@code sample} (pool or set method, as CPython 3.11
 * chooses). With the same seed and the same calls it returns the same choices, so few-shot prompts match the
 * harness's example for example.
 */
final class PythonRandom {

  private static final int N = 624;
  private static final int M = 397;
  private final int[] mt = new int[N];
  private int index = N + 1;

  PythonRandom(long seed) {
    long a = Math.abs(seed);
    List<Integer> key = new ArrayList<>();
    do {
      key.add((int) (a & 0xffffffffL));
      a >>>= 32;
    } while (a != 0);
    initByArray(key.stream().mapToInt(Integer::intValue).toArray());
  }

  private void initGenrand(int s) {
    mt[0] = s;
    for (index = 1; index < N; index++) {
      mt[index] = 1812433253 * (mt[index - 1] ^ (mt[index - 1] >>> 30)) + index;
    }
  }

  private void initByArray(int[] key) {
    initGenrand(19650218);
    int i = 1;
    int j = 0;
    for (int k = Math.max(N, key.length); k > 0; k--) {
      mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
      if (j >= key.length) {
        j = 0;
      }
    }
    for (int k = N - 1; k > 0; k--) {
      mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    index = N;
  }

  /** The next 32 random bits (genrand_uint32). */
  int nextUint32() {
    if (index >= N) {
      for (int k = 0; k < N; k++) {
        int y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
      }
      index = 0;
    }
    int y = mt[index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y;
  }

  /** getrandbits(k) for k in 0..32. */
  long getrandbits(int k) {
    if (k == 0) {
      return 0;
    }
    return (nextUint32() & 0xffffffffL) >>> (32 - k);
  }

  /** _randbelow(n): uniform in [0, n) by rejection. */
  int randbelow(int n) {
    int k = 32 - Integer.numberOfLeadingZeros(n); // n.bit_length()
    long r = getrandbits(k);
    while (r >= n) {
      r = getrandbits(k);
    }
    return (int) r;
  }

  /** random.sample(population, k): k distinct elements, in selection order. */
  <T> List<T> sample(List<T> population, int k) {
    int n = population.size();
    if (k < 0 || k > n) {
      throw new IllegalArgumentException("sample larger than population or negative: " + k + " of " + n);
    }
    List<T> result = new ArrayList<>(k);
    int setsize = 21;
    if (k > 5) {
      setsize += (int) Math.pow(4, Math.ceil(Math.log(k * 3.0) / Math.log(4)));
    }
    if (n <= setsize) {
      List<T> pool = new ArrayList<>(population);
      for (int i = 0; i < k; i++) {
        int j = randbelow(n - i);
        result.add(pool.get(j));
        pool.set(j, pool.get(n - i - 1));
      }
    } else {
      Set<Integer> selected = new HashSet<>();
      for (int i = 0; i < k; i++) {
        int j = randbelow(n);
        while (selected.contains(j)) {
          j = randbelow(n);
        }
        selected.add(j);
        result.add(population.get(j));
      }
    }
    return result;
  }
}
