package io.pose.trainer.dist;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Ranks in separate processes (or on separate nodes) exchanging over TCP: the CPU backend of multi-node runs, and
 * the control plane that GPU ranks share the NCCL unique id through.
 *
 * <p>Rendezvous: rank 0 listens on the master address and port (MASTER_ADDR / MASTER_PORT, which the operator sets
 * on the training Job); every other rank connects (retrying while the master's name does not resolve yet or nothing
 * listens), says its rank, the world size and the run it belongs to, and the port of a listener of its own. When
 * every rank has joined, rank 0 sends each the table of addresses and the ranks connect to each other: a full mesh,
 * with the connection to the master serving as the link to rank 0. A rank that does not join within the rendezvous
 * timeout fails every rank, with the missing ranks named.
 *
 * <p>Collectives exchange directly: a reduce-scatter sends chunk j of this rank's tensor to rank j and sums the
 * chunks it receives in rank order (the same bits on every rank and in every run, and the same as
 * {@link InProcessGroup}); a gather sends this rank's shard to every other rank. Each peer has its own writer
 * thread, so simultaneous sends never deadlock. Every frame names its operation: ranks that run different
 * operations fail at once instead of exchanging garbage. A peer that closes its connection (it failed, was killed,
 * or aborted) fails the operation at once; a peer that sends nothing for the operation timeout fails it then.
 */
public final class SocketGroup {
  private SocketGroup() {}

  static final int MAGIC = 0x506f5345; // "PoSE"
  static final int VERSION = 1;
  private static final int CHUNK_BYTES = 1 << 20;
  private static final Duration RETRY = Duration.ofMillis(200);
  /** How long a breaking group lets the frames it already queued go out (a peer then reads why, not an EOF). */
  static final Duration DRAIN = Duration.ofSeconds(1);

  /**
   * Where and how the ranks meet.
   *
   * @param masterAddress rank 0's host name or address (others connect there)
   * @param masterPort the port rank 0 listens on
   * @param run what the ranks must agree on to form a group (the run's identity): ranks of another run are refused
   * @param rendezvousTimeout how long ranks wait for each other to join
   * @param operationTimeout how long a collective waits for a peer's data
   */
  public record Rendezvous(String masterAddress, int masterPort, String run, Duration rendezvousTimeout,
      Duration operationTimeout) {}

  /**
   * Joins the group as rank {@code rank} of {@code size}; returns when every rank has joined and the mesh is built.
   * Call it from one thread per rank (it blocks until the whole world is there).
   */
  public static Collective join(int rank, int size, Rendezvous where) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " of a world of " + size);
    }
    long deadline = System.nanoTime() + where.rendezvousTimeout().toNanos();
    Socket[] peers = new Socket[size];
    try {
      if (size > 1) {
        if (rank == 0) {
          master(size, where, deadline, peers);
        } else {
          worker(rank, size, where, deadline, peers);
        }
        for (Socket s : peers) {
          if (s != null) {
            s.setSoTimeout(Math.toIntExact(Math.min(Integer.MAX_VALUE, where.operationTimeout().toMillis())));
            s.setTcpNoDelay(true);
          }
        }
      }
      return new Member(rank, size, peers, where.operationTimeout());
    } catch (IOException e) {
      closeAll(peers);
      throw new CollectiveException("rank " + rank + ": the rendezvous at " + where.masterAddress() + ":"
          + where.masterPort() + " failed: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeAll(peers);
      throw e;
    }
  }

  // ---- rendezvous ----

  private static void master(int size, Rendezvous where, long deadline, Socket[] peers) throws IOException {
    String[] hosts = new String[size];
    int[] ports = new int[size];
    try (ServerSocket server = new ServerSocket()) {
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(where.masterPort()));
      int joined = 1;
      while (joined < size) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          String missing = missing(peers, 1);
          String message = "ranks did not join the rendezvous on port " + where.masterPort() + " within "
              + where.rendezvousTimeout() + ": missing " + missing;
          for (Socket s : peers) {
            if (s != null) {
              refuse(s, message);
            }
          }
          throw new CollectiveException("rank 0: " + message);
        }
        server.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(left))));
        Socket s;
        try {
          s = server.accept();
        } catch (SocketTimeoutException e) {
          continue;
        }
        s.setSoTimeout((int) Math.max(1000, Math.min(30_000, TimeUnit.NANOSECONDS.toMillis(left))));
        try {
          DataInputStream in = handshake(s);
          Hello hello = Hello.read(in);
          String problem = hello.problem(size, where.run());
          if (problem == null && hello.rank != 0 && peers[hello.rank] != null && gone(peers[hello.rank])) {
            peers[hello.rank].close(); // the rank's pod restarted: its new connection replaces the dead one
            peers[hello.rank] = null;
            joined--;
          }
          if (problem == null && (hello.rank == 0 || peers[hello.rank] != null)) {
            problem = "rank " + hello.rank + " joined twice";
          }
          if (problem != null) {
            refuse(s, problem);
            if (hello.run.equals(where.run())) {
              throw new CollectiveException("rank 0: " + problem);
            }
            continue; // a stray connection (another run, a port scan): this run goes on
          }
          peers[hello.rank] = s;
          hosts[hello.rank] = s.getInetAddress().getHostAddress();
          ports[hello.rank] = hello.listenPort;
          joined++;
        } catch (IOException e) {
          s.close(); // not one of ours, or it gave up: keep listening
        }
      }
    }
    for (int r = 1; r < size; r++) {
      DataOutputStream out = new DataOutputStream(peers[r].getOutputStream());
      out.writeInt(0);
      for (int j = 0; j < size; j++) {
        out.writeUTF(j == 0 ? "" : hosts[j]);
        out.writeInt(j == 0 ? 0 : ports[j]);
      }
      out.flush();
    }
  }

  private static void refuse(Socket s, String message) {
    try {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeInt(1);
      out.writeUTF(message);
      out.flush();
    } catch (IOException ignored) {
      // it will see the connection close
    } finally {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  private static void worker(int rank, int size, Rendezvous where, long deadline, Socket[] peers) throws IOException {
    try (ServerSocket listener = new ServerSocket()) {
      listener.bind(new InetSocketAddress(0));
      Socket master = connect(where.masterAddress(), where.masterPort(), deadline, where, rank, "the master (rank 0)");
      peers[0] = master;
      DataOutputStream out = new DataOutputStream(new BufferedOutputStream(master.getOutputStream()));
      new Hello(rank, size, listener.getLocalPort(), where.run()).write(out);
      out.flush();
      DataInputStream in = handshake(master);
      // a little longer than the rendezvous itself: when ranks are missing, rank 0 says which at the deadline
      master.setSoTimeout(timeoutLeft(deadline) + 5000);
      String[] hosts = new String[size];
      int[] ports = new int[size];
      try {
        if (in.readInt() != 0) {
          throw new CollectiveException("rank " + rank + ": rank 0 ended the rendezvous: " + in.readUTF());
        }
        for (int j = 0; j < size; j++) {
          hosts[j] = in.readUTF();
          ports[j] = in.readInt();
        }
      } catch (SocketTimeoutException e) {
        throw new CollectiveException("rank " + rank + ": the other ranks did not all join the rendezvous at "
            + where.masterAddress() + ":" + where.masterPort() + " within " + where.rendezvousTimeout(), e);
      } catch (EOFException | SocketException e) {
        throw new CollectiveException("rank " + rank + ": rank 0 closed the rendezvous before every rank joined "
            + "(it failed or was stopped)", e);
      }
      // connect to the ranks below (rank 0 is the master connection), accept those above
      for (int j = 1; j < rank; j++) {
        Socket s = connect(hosts[j], ports[j], deadline, where, rank, "rank " + j);
        DataOutputStream o = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
        new Hello(rank, size, 0, where.run()).write(o);
        o.flush();
        peers[j] = s;
      }
      for (int k = rank + 1; k < size; k++) {
        listener.setSoTimeout(timeoutLeft(deadline));
        Socket s;
        try {
          s = listener.accept();
        } catch (SocketTimeoutException e) {
          throw new CollectiveException("rank " + rank + ": " + missing(peers, rank + 1) + " did not connect within "
              + where.rendezvousTimeout(), e);
        }
        s.setSoTimeout(timeoutLeft(deadline));
        Hello hello = Hello.read(handshake(s));
        String problem = hello.problem(size, where.run());
        if (problem != null || hello.rank <= rank || peers[hello.rank] != null) {
          s.close();
          throw new CollectiveException("rank " + rank + ": an unexpected peer connected: "
              + (problem != null ? problem : "rank " + hello.rank));
        }
        peers[hello.rank] = s;
      }
    }
  }

  /** Whether a joined rank's connection has closed (its process ended) while the rendezvous waits. */
  private static boolean gone(Socket s) {
    try {
      int before = s.getSoTimeout();
      s.setSoTimeout(1);
      try {
        return s.getInputStream().read() < 0; // it sends nothing before the table: a read returns only at its end
      } catch (SocketTimeoutException e) {
        return false;
      } finally {
        s.setSoTimeout(before);
      }
    } catch (IOException e) {
      return true;
    }
  }

  /**
   * The rendezvous reads a connection without buffering: a buffer would read ahead into the first collective's frames,
   * which a fast peer may send right after the handshake, and lose them with the handshake's stream.
   */
  private static DataInputStream handshake(Socket s) throws IOException {
    return new DataInputStream(s.getInputStream());
  }

  private static int timeoutLeft(long deadline) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
  }

  /** Connects, retrying until the deadline while the name does not resolve or nothing listens yet. */
  private static Socket connect(String host, int port, long deadline, Rendezvous where, int rank, String whom)
      throws IOException {
    IOException last = null;
    while (System.nanoTime() < deadline) {
      Socket s = new Socket();
      try {
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
          throw new java.net.UnknownHostException(host + " does not resolve (yet)");
        }
        s.connect(address, (int) Math.max(1, Math.min(10_000, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
        return s;
      } catch (IOException e) {
        s.close();
        last = e;
        try {
          Thread.sleep(RETRY.toMillis());
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new CollectiveException("rank " + rank + ": interrupted while connecting to " + whom, ie);
        }
      }
    }
    throw new CollectiveException("rank " + rank + ": could not reach " + whom + " at " + host + ":" + port
        + " within " + where.rendezvousTimeout() + (last == null ? "" : " (last error: " + last + ")"), last);
  }

  private static String missing(Socket[] peers, int from) {
    List<String> ranks = new ArrayList<>();
    for (int r = from; r < peers.length; r++) {
      if (peers[r] == null) {
        ranks.add(Integer.toString(r));
      }
    }
    return (ranks.size() == 1 ? "rank " : "ranks ") + String.join(", ", ranks);
  }

  private static void closeAll(Socket[] peers) {
    for (Socket s : peers) {
      if (s != null) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
  }

  /** What a rank says when it connects. */
  private record Hello(int rank, int world, int listenPort, String run) {
    void write(DataOutputStream out) throws IOException {
      out.writeInt(MAGIC);
      out.writeInt(VERSION);
      out.writeInt(rank);
      out.writeInt(world);
      out.writeInt(listenPort);
      out.writeUTF(run);
    }

    static Hello read(DataInputStream in) throws IOException {
      if (in.readInt() != MAGIC) {
        throw new IOException("not a pose rank");
      }
      int version = in.readInt();
      if (version != VERSION) {
        throw new IOException("protocol version " + version + ", expected " + VERSION);
      }
      return new Hello(in.readInt(), in.readInt(), in.readInt(), in.readUTF());
    }

    /** Why this rank cannot join a world of that size and run, or null. */
    String problem(int size, String expectedRun) {
      if (!run.equals(expectedRun)) {
        return "rank " + rank + " belongs to another run (" + run + "), this world trains " + expectedRun;
      }
      if (world != size) {
        return "rank " + rank + " expects a world of " + world + " ranks, rank 0 one of " + size
            + " (do the nodes run the same spec?)";
      }
      if (rank < 0 || rank >= size) {
        return "rank " + rank + " is outside [0, " + size + ")";
      }
      return null;
    }
  }

  // ---- collectives ----

  private static final class Member extends HostCollective {
    private final Socket[] peers;
    private final DataInputStream[] in;
    private final DataOutputStream[] out;
    private final ExecutorService[] writers;
    private final Duration timeout;

    Member(int rank, int size, Socket[] peers, Duration timeout) throws IOException {
      super(rank, size, "pose-collective-rank-" + rank);
      this.peers = peers;
      this.timeout = timeout;
      this.in = new DataInputStream[size];
      this.out = new DataOutputStream[size];
      this.writers = new ExecutorService[size];
      for (int j = 0; j < size; j++) {
        if (j == rank) {
          continue;
        }
        in[j] = new DataInputStream(new BufferedInputStream(peers[j].getInputStream(), CHUNK_BYTES));
        out[j] = new DataOutputStream(new BufferedOutputStream(peers[j].getOutputStream(), CHUNK_BYTES));
        int peer = j;
        writers[j] = Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "pose-collective-rank-" + rank + "-to-" + peer);
          t.setDaemon(true);
          return t;
        });
      }
    }

    /** A frame's payload: floats, doubles, or nothing. */
    private interface Payload {
      void write(DataOutputStream o) throws IOException;
    }

    private Future<?> send(int peer, OpId op, long count, Payload payload) {
      return writers[peer].submit(() -> {
        DataOutputStream o = out[peer];
        o.writeUTF(op.name());
        o.writeLong(op.sequence());
        o.writeLong(count);
        payload.write(o);
        o.flush();
        return null;
      });
    }

    /** Reads a frame's header from a peer and checks it is the same operation. */
    private void expect(int peer, OpId op, long count) throws IOException {
      String name = in[peer].readUTF();
      long sequence = in[peer].readLong();
      long n = in[peer].readLong();
      if (!name.equals(op.name()) || sequence != op.sequence() || n != count) {
        throw new CollectiveException("rank " + rank + " is at " + op + ", rank " + peer + " sent " + name + " #"
            + sequence + " of " + n + " values: the ranks ran different steps");
      }
    }

    private <T> T receive(int peer, OpId op, IoCall<T> call) {
      try {
        return call.run();
      } catch (SocketTimeoutException e) {
        throw new CollectiveException("rank " + rank + ": rank " + peer + " sent nothing for " + timeout + " during "
            + op + " (it hangs, or the network between the nodes failed)", e);
      } catch (EOFException | SocketException e) {
        // a failure spreads (a rank whose peer died closes its own connections): name every rank gone by now
        String others = closedToo(peer);
        throw new CollectiveException("rank " + rank + ": rank " + peer + " closed its connection during " + op
            + (others.isEmpty() ? "" : " (closed too: " + others + ")")
            + " (it failed, was killed or aborted: see its log)", e);
      } catch (IOException e) {
        throw new CollectiveException("rank " + rank + ": reading from rank " + peer + " during " + op + " failed: " + e, e);
      }
    }

    /** The other peers whose connections have closed as well (the group is failing: what they send is not needed). */
    private String closedToo(int except) {
      List<String> closed = new ArrayList<>();
      for (int j = 0; j < size; j++) {
        if (j == rank || j == except) {
          continue;
        }
        try {
          peers[j].setSoTimeout(50);
          while (in[j].read() >= 0) {
            // drain what it sent before closing
          }
          closed.add("rank " + j);
        } catch (SocketTimeoutException e) {
          // still there
        } catch (IOException e) {
          closed.add("rank " + j);
        }
      }
      return String.join(", ", closed);
    }

    private interface IoCall<T> {
      T run() throws IOException;
    }

    private void finish(List<Future<?>> sends, OpId op, int[] to) {
      for (int i = 0; i < sends.size(); i++) {
        try {
          sends.get(i).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          throw new CollectiveException("rank " + rank + ": rank " + to[i] + " did not take its data for " + timeout
              + " during " + op + " (it hangs, or the network between the nodes failed)", e);
        } catch (ExecutionException e) {
          throw new CollectiveException("rank " + rank + ": sending to rank " + to[i] + " during " + op + " failed: "
              + e.getCause() + " (it failed, was killed or aborted: see its log)", e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new CollectiveException("rank " + rank + ": interrupted during " + op, e);
        }
      }
    }

    private int[] others() {
      int[] o = new int[size - 1];
      for (int j = 0, k = 0; j < size; j++) {
        if (j != rank) {
          o[k++] = j;
        }
      }
      return o;
    }

    @Override
    protected float[] gather(OpId op, float[] shard) {
      int n = shard.length;
      float[] full = new float[n * size];
      System.arraycopy(shard, 0, full, rank * n, n);
      int[] to = others();
      List<Future<?>> sends = new ArrayList<>();
      for (int j : to) {
        sends.add(send(j, op, n, o -> writeFloats(o, shard, 0, n)));
      }
      for (int j : to) {
        receive(j, op, () -> {
          expect(j, op, n);
          readFloats(in[j], full, j * n, n, null);
          return null;
        });
      }
      finish(sends, op, to);
      return full;
    }

    @Override
    protected float[] reduceScatter(OpId op, float[] full) {
      int n = full.length / size;
      int[] to = others();
      List<Future<?>> sends = new ArrayList<>();
      for (int j : to) {
        sends.add(send(j, op, n, o -> writeFloats(o, full, j * n, n)));
      }
      // rank-order sum: 0 + x_0 + x_1 + ... (the chunks arrive from each peer; this rank's own sits at its place)
      float[] sum = new float[n];
      for (int r = 0; r < size; r++) {
        if (r == rank) {
          for (int i = 0; i < n; i++) {
            sum[i] += full[rank * n + i];
          }
        } else {
          int peer = r;
          receive(peer, op, () -> {
            expect(peer, op, n);
            readFloats(in[peer], null, 0, n, sum);
            return null;
          });
        }
      }
      finish(sends, op, to);
      return sum;
    }

    @Override
    protected double[][] gatherDoubles(OpId op, double[] values) {
      double[][] all = new double[size][];
      all[rank] = values;
      int[] to = others();
      List<Future<?>> sends = new ArrayList<>();
      for (int j : to) {
        sends.add(send(j, op, values.length, o -> {
          for (double v : values) {
            o.writeDouble(v);
          }
        }));
      }
      for (int j : to) {
        all[j] = receive(j, op, () -> {
          expect(j, op, values.length);
          double[] v = new double[values.length];
          for (int i = 0; i < v.length; i++) {
            v[i] = in[j].readDouble();
          }
          return v;
        });
      }
      finish(sends, op, to);
      return all;
    }

    @Override
    protected float[] broadcast(OpId op, float[] values, int root) {
      if (rank == root) {
        int[] to = others();
        List<Future<?>> sends = new ArrayList<>();
        for (int j : to) {
          sends.add(send(j, op, values.length, o -> writeFloats(o, values, 0, values.length)));
        }
        finish(sends, op, to);
        return values;
      }
      return receive(root, op, () -> {
        String name = in[root].readUTF();
        long sequence = in[root].readLong();
        long n = in[root].readLong();
        if (!name.equals(op.name()) || sequence != op.sequence()) {
          throw new CollectiveException("rank " + rank + " is at " + op + ", rank " + root + " sent " + name + " #"
              + sequence + ": the ranks ran different steps");
        }
        float[] v = new float[Math.toIntExact(n)];
        readFloats(in[root], v, 0, v.length, null);
        return v;
      });
    }

    @Override
    protected void breakGroup(String reason) {
      // closing the sockets is what the peers notice at once, wherever they wait
      release();
    }

    @Override
    protected void release() {
      // frames already queued (this rank's side of the operation that failed, say) still go out, so that a peer
      // reads them (and sees that the ranks ran different steps) rather than a closed connection; a writer stuck
      // on a peer that reads nothing is stopped after DRAIN
      for (ExecutorService w : writers) {
        if (w != null) {
          w.shutdown();
        }
      }
      long deadline = System.nanoTime() + DRAIN.toNanos();
      try {
        for (ExecutorService w : writers) {
          if (w != null) {
            w.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (ExecutorService w : writers) {
        if (w != null) {
          w.shutdownNow();
        }
      }
      closeAll(peers);
    }
  }

  /** Little-endian fp32 values, a chunk at a time. */
  static void writeFloats(DataOutputStream o, float[] values, int from, int count) throws IOException {
    byte[] bytes = new byte[(int) Math.min(CHUNK_BYTES, Math.max(4, 4L * count))];
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int done = 0;
    while (done < count) {
      int n = Math.min(count - done, bytes.length / 4);
      b.clear();
      b.asFloatBuffer().put(values, from + done, n);
      o.write(bytes, 0, n * 4);
      done += n;
    }
  }

  /** Reads count fp32 values into target[at..] or, when target is null, adds them to sum. */
  static void readFloats(DataInputStream i, float[] target, int at, int count, float[] sum) throws IOException {
    byte[] bytes = new byte[(int) Math.min(CHUNK_BYTES, Math.max(4, 4L * count))];
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    float[] scratch = sum == null ? null : new float[bytes.length / 4];
    int done = 0;
    while (done < count) {
      int n = Math.min(count - done, bytes.length / 4);
      i.readFully(bytes, 0, n * 4);
      b.clear();
      if (sum == null) {
        b.asFloatBuffer().get(target, at + done, n);
      } else {
        b.asFloatBuffer().get(scratch, 0, n);
        for (int k = 0; k < n; k++) {
          sum[done + k] += scratch[k];
        }
      }
      done += n;
    }
  }
}
