package io.pose.trainer.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pose.trainer.kernels.FusedOps;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The collectives on CPU: ranks as threads sharing memory, and ranks over TCP on loopback (each with its own
 * sockets, as separate processes would have). Both give exactly the rank-order sums, so they agree bit for bit.
 */
class CollectiveTest {

  private ExecutorService pool;

  @BeforeEach
  void pool() {
    pool = Executors.newCachedThreadPool();
  }

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static SocketGroup.Rendezvous loopback(int port, Duration timeout) {
    return new SocketGroup.Rendezvous("127.0.0.1", port, "test-run", timeout, timeout);
  }

  /** Runs one body per rank, each on its own thread, and returns their results in rank order. */
  <T> List<T> ranks(int size, IntFunction<Collective> members, RankBody<T> body) throws Exception {
    List<Future<T>> futures = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      int rank = r;
      futures.add(pool.submit(() -> {
        try (Collective c = members.apply(rank); NDManager m = NDManager.newBaseManager()) {
          return body.run(c, m);
        }
      }));
    }
    List<T> out = new ArrayList<>();
    for (Future<T> f : futures) {
      out.add(f.get());
    }
    return out;
  }

  interface RankBody<T> {
    T run(Collective c, NDManager m) throws Exception;
  }

  static float[] values(int rank, int n, int salt) {
    Random r = new Random(rank * 7919L + salt);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian() * (1 + rank);
    }
    return v;
  }

  /** Every collective, with odd sizes; returns what each rank ended with. */
  static List<float[]> everything(Collective c, NDManager m) {
    int size = c.worldSize();
    int rank = c.rank();
    List<float[]> out = new ArrayList<>();
    NDArray t = m.create(values(rank, 1001, 1)); // not a multiple of the world: padded inside
    c.allReduceSum(t);
    out.add(t.toFloatArray());

    NDArray shard = m.create(values(rank, 37, 2));
    NDArray full = m.zeros(new Shape(37L * size));
    c.allGather(shard, full);
    out.add(full.toFloatArray());

    // in place: the shard is this rank's slice of the full buffer
    NDArray inPlace = m.zeros(new Shape(37L * size));
    NDArray own = FusedOps.view(inPlace, 37L * rank, new long[] {37});
    FusedOps.copy(own, m.create(values(rank, 37, 3)));
    c.allGatherAsync(own, inPlace).await();
    out.add(inPlace.toFloatArray());

    NDArray grads = m.create(values(rank, 64 * size, 4));
    NDArray mine = m.zeros(new Shape(64));
    c.reduceScatterAsync(grads, mine).await();
    out.add(mine.toFloatArray());

    NDArray b = m.create(values(rank, 50, 5));
    c.broadcast(b, size - 1);
    out.add(b.toFloatArray());

    double[] sums = c.allReduce(new double[] {rank + 0.5, -rank}, Collective.Op.SUM);
    double[] max = c.allReduce(new double[] {rank, -rank}, Collective.Op.MAX);
    out.add(new float[] {(float) sums[0], (float) sums[1], (float) max[0], (float) max[1]});
    c.barrier();
    return out;
  }

  /** What every rank must end with: rank-order sums computed here. */
  static void checkEverything(int size, List<List<float[]>> results) {
    float[] sum = new float[1001];
    for (int r = 0; r < size; r++) {
      float[] v = values(r, 1001, 1);
      for (int i = 0; i < sum.length; i++) {
        sum[i] += v[i];
      }
    }
    for (int rank = 0; rank < size; rank++) {
      List<float[]> got = results.get(rank);
      assertThat(got.get(0)).as("allReduceSum on rank %d", rank).containsExactly(sum);
      for (int r = 0; r < size; r++) {
        float[] part = java.util.Arrays.copyOfRange(got.get(1), r * 37, (r + 1) * 37);
        assertThat(part).as("allGather: rank %d's shard on rank %d", r, rank).containsExactly(values(r, 37, 2));
        float[] inPlace = java.util.Arrays.copyOfRange(got.get(2), r * 37, (r + 1) * 37);
        assertThat(inPlace).as("in-place allGather").containsExactly(values(r, 37, 3));
      }
      float[] expected = new float[64];
      for (int r = 0; r < size; r++) {
        float[] v = values(r, 64 * size, 4);
        for (int i = 0; i < 64; i++) {
          expected[i] += v[rank * 64 + i];
        }
      }
      assertThat(got.get(3)).as("reduceScatter on rank %d", rank).containsExactly(expected);
      assertThat(got.get(4)).as("broadcast from the last rank").containsExactly(values(size - 1, 50, 5));
      float s0 = 0;
      for (int r = 0; r < size; r++) {
        s0 += r + 0.5f;
      }
      assertThat(got.get(5)[0]).isEqualTo(s0);
      assertThat(got.get(5)[2]).isEqualTo(size - 1f);
      assertThat(got.get(5)[3]).isEqualTo(0f);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4})
  void threadsShareMemory(int size) throws Exception {
    InProcessGroup group = new InProcessGroup(size, Duration.ofMinutes(1));
    checkEverything(size, ranks(size, group::member, CollectiveTest::everything));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void ranksOverTcpGiveTheSameBits(int size) throws Exception {
    var where = loopback(freePort(), Duration.ofMinutes(1));
    List<List<float[]>> tcp = ranks(size, r -> SocketGroup.join(r, size, where), CollectiveTest::everything);
    checkEverything(size, tcp);
    InProcessGroup group = new InProcessGroup(size, Duration.ofMinutes(1));
    List<List<float[]>> threads = ranks(size, group::member, CollectiveTest::everything);
    for (int r = 0; r < size; r++) {
      for (int k = 0; k < tcp.get(r).size(); k++) {
        assertThat(tcp.get(r).get(k)).containsExactly(threads.get(r).get(k));
      }
    }
  }

  @Test
  void aSingleRankCopiesWhereBuffersDiffer() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray shard = m.create(new float[] {1, 2, 3});
      NDArray full = m.zeros(new Shape(3));
      SingleRank.INSTANCE.allGather(shard, full);
      assertThat(full.toFloatArray()).containsExactly(1, 2, 3);
      NDArray back = m.zeros(new Shape(3));
      SingleRank.INSTANCE.reduceScatter(full, back);
      assertThat(back.toFloatArray()).containsExactly(1, 2, 3);
    }
  }

  @Test
  void aRankThatNeverJoinsIsNamedOnEveryRankWithinTheTimeout() throws Exception {
    var where = loopback(freePort(), Duration.ofSeconds(3));
    long start = System.nanoTime();
    List<Future<?>> joined = new ArrayList<>();
    for (int r = 0; r < 2; r++) { // ranks 0 and 1 of 3: rank 2 never comes
      int rank = r;
      joined.add(pool.submit(() -> SocketGroup.join(rank, 3, where)));
    }
    assertThatThrownBy(() -> joined.get(0).get()).hasCauseInstanceOf(CollectiveException.class)
        .hasMessageContaining("rank 0").hasMessageContaining("missing rank 2");
    assertThatThrownBy(() -> joined.get(1).get()).hasCauseInstanceOf(CollectiveException.class)
        .hasMessageContaining("rank 1").hasMessageContaining("missing rank 2");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
  }

  @Test
  void aWorkerWithoutMasterGivesUpAtTheDeadlineNamingTheMaster() throws Exception {
    int port = freePort(); // nothing listens there
    assertThatThrownBy(() -> SocketGroup.join(1, 2, loopback(port, Duration.ofSeconds(1))))
        .isInstanceOf(CollectiveException.class).hasMessageContaining("could not reach the master (rank 0) at 127.0.0.1:" + port);
  }

  @Test
  void aConnectionOfAnotherRunDoesNotJoin() throws Exception {
    int port = freePort();
    var where = loopback(port, Duration.ofSeconds(20));
    Future<Collective> master = pool.submit(() -> SocketGroup.join(0, 2, where));
    // a rank of another run knocks first, and is refused with the reason
    var other = new SocketGroup.Rendezvous("127.0.0.1", port, "another-run", Duration.ofSeconds(5), Duration.ofSeconds(5));
    assertThatThrownBy(() -> SocketGroup.join(1, 2, other)).hasMessageContaining("belongs to another run");
    // a stranger that speaks no protocol at all is dropped
    try (Socket stranger = new Socket("127.0.0.1", port)) {
      stranger.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes());
    }
    Collective worker = SocketGroup.join(1, 2, where);
    try (Collective m = master.get(); worker) {
      assertThat(m.worldSize()).isEqualTo(2);
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aRankThatDiesMidRunFailsTheOthersAtOnceNamingIt(boolean tcp) throws Exception {
    InProcessGroup group = new InProcessGroup(3, Duration.ofMinutes(5));
    var where = loopback(freePort(), Duration.ofMinutes(5));
    IntFunction<Collective> member = r -> tcp ? SocketGroup.join(r, 3, where) : group.member(r);
    long start = System.nanoTime();
    List<Future<String>> results = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      int rank = r;
      results.add(pool.submit(() -> {
        try (Collective c = member.apply(rank); NDManager m = NDManager.newBaseManager()) {
          NDArray t = m.ones(new Shape(100));
          c.allReduceSum(t);
          if (rank == 2) {
            c.abort("rank 2 ran out of memory"); // what a failing rank does before it goes
            return "failed";
          }
          c.allReduceSum(t); // ranks 0 and 1 wait for rank 2 here
          return "unexpected";
        }
      }));
    }
    assertThat(results.get(2).get()).isEqualTo("failed");
    for (int r = 0; r < 2; r++) {
      int rank = r;
      assertThatThrownBy(() -> results.get(rank).get()).isInstanceOf(ExecutionException.class)
          .cause().isInstanceOf(CollectiveException.class)
          .hasMessageContaining(tcp ? "rank 2" : "rank 2 ran out of memory").hasMessageContaining(tcp ? "closed" : "");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("well before the 5 minute timeout")
        .isLessThan(Duration.ofSeconds(30));
  }

  @Test
  void aPeerThatHangsFailsTheOperationAtTheTimeout() throws Exception {
    var where = loopback(freePort(), Duration.ofSeconds(2));
    List<Future<String>> results = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      int rank = r;
      results.add(pool.submit(() -> {
        try (Collective c = SocketGroup.join(rank, 2, where); NDManager m = NDManager.newBaseManager()) {
          if (rank == 1) {
            Thread.sleep(8000); // stuck, connection open
            return "slept";
          }
          c.allReduceSum(m.ones(new Shape(10)));
          return "unexpected";
        }
      }));
    }
    assertThatThrownBy(() -> results.get(0).get()).cause().isInstanceOf(CollectiveException.class)
        .hasMessageContaining("rank 1 sent nothing for PT2S");
    results.get(1).get();
  }

  @Test
  void aThreadRankThatNeverArrivesIsNamedAtTheTimeout() {
    InProcessGroup group = new InProcessGroup(3, Duration.ofSeconds(1));
    try (NDManager m = NDManager.newBaseManager()) {
      Future<?> rank1 = pool.submit(() -> group.member(1).allReduceSum(m.ones(new Shape(4))));
      assertThatThrownBy(() -> group.member(0).allReduceSum(m.ones(new Shape(4))))
          .isInstanceOf(CollectiveException.class).hasMessageContaining("rank 2").hasMessageContaining("timed out");
      assertThatThrownBy(rank1::get).hasCauseInstanceOf(CollectiveException.class);
    }
  }

  @Test
  void ranksThatRunDifferentOperationsFailInsteadOfMixingData() throws Exception {
    for (boolean tcp : new boolean[] {false, true}) {
      InProcessGroup group = new InProcessGroup(2, Duration.ofMinutes(1));
      var where = loopback(freePort(), Duration.ofMinutes(1));
      List<Future<Object>> results = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        results.add(pool.submit(() -> {
          try (Collective c = tcp ? SocketGroup.join(rank, 2, where) : group.member(rank);
              NDManager m = NDManager.newBaseManager()) {
            if (rank == 0) {
              c.allReduceSum(m.ones(new Shape(8)));
            } else {
              c.allGather(m.ones(new Shape(4)), m.zeros(new Shape(8)));
            }
            return null;
          }
        }));
      }
      assertThatThrownBy(() -> results.get(0).get()).cause().isInstanceOf(CollectiveException.class)
          .hasMessageContaining("the ranks ran different steps");
    }
  }
}
