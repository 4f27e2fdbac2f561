package io.pose.trainer.stage;

import ai.djl.ndarray.NDManager;
import io.pose.api.contract.TrainerContract.ExitCode;
import io.pose.core.hf.ConfigExtension;
import io.pose.core.hf.ModelConfig;
import io.pose.core.sampling.PositionSampler;
import io.pose.trainer.data.DataException;
import io.pose.trainer.data.SampleStream;
import io.pose.trainer.data.TokenFile;
import io.pose.trainer.dist.Collective;
import io.pose.trainer.dist.CollectiveException;
import io.pose.trainer.dist.Cuda;
import io.pose.trainer.dist.NcclGroup;
import io.pose.trainer.dist.SingleRank;
import io.pose.trainer.dist.SocketGroup;
import io.pose.trainer.dist.World;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.io.CheckpointException;
import io.pose.trainer.io.CheckpointWriter;
import io.pose.trainer.io.ModelExport;
import io.pose.trainer.io.TensorSource;
import io.pose.trainer.kernels.ComputeType;
import io.pose.trainer.kernels.NativeMemory;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import io.pose.trainer.progress.ProgressListener;
import io.pose.trainer.train.CheckpointStore;
import io.pose.trainer.train.StepResult;
import io.pose.trainer.train.Trainer;
import io.pose.trainer.train.TrainingDivergedException;
import io.pose.trainer.train.TrainingPlan;
import io.pose.trainer.train.ZeroModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Runs the ranks of this process (one thread per GPU, or the one CPU rank) through a training run: each joins the
 * group (NCCL or TCP), builds its share of the model on its device, trains, and takes part in writing the
 * checkpoints and the exported model. A rank that fails aborts the group, so every other rank, here and on the other
 * nodes, fails promptly with the reason instead of waiting; the process reports the first failure that is not just
 * another rank's.
 */
final class TrainRanks {
  private TrainRanks() {}

  /** Everything a rank needs, resolved from the spec by {@link TrainStage}. */
  record Job(World world, ModelConfig extended, ModelConfig base, ComputeType compute, int zeroStage,
      TrainingPlan plan, PositionSampler sampler, long dataSeed, long poseSeed, int minTokens, Path tokenFile,
      Path baseDir, CheckpointStore.Saved saved, CheckpointStore checkpoints, String identity,
      ConfigExtension.Plan extension, Path extendedDir, int until, List<ProgressListener> listeners, PrintWriter log) {}

  /** Where the run stands when this process's ranks are done. */
  record Outcome(int step, Integer lastCheckpointStep, Double lastLoss) {}

  static Outcome run(Job job) throws StageException {
    World world = job.world();
    int local = world.ranksPerNode();
    if (local == 1) {
      return rank(job, 0);
    }
    // one thread per GPU; their CPU work is light, the GPUs do the rest
    List<Thread> threads = new ArrayList<>();
    Outcome[] outcomes = new Outcome[local];
    Throwable[] failures = new Throwable[local];
    for (int r = 0; r < local; r++) {
      int localRank = r;
      Thread t = new Thread(() -> {
        try {
          outcomes[localRank] = rank(job, localRank);
        } catch (Throwable e) {
          failures[localRank] = e;
        }
      }, "pose-rank-" + world.globalRank(r));
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        threads.forEach(Thread::interrupt);
        throw new StageException(ExitCode.RUNTIME_FAILURE, "interrupted while the ranks were training", e);
      }
    }
    Throwable first = null;
    for (Throwable f : failures) {
      // the cause, not its echo: a rank's own failure before other ranks' CollectiveExceptions
      if (f != null && (first == null || isEcho(first) && !isEcho(f))) {
        first = f;
      }
    }
    if (first instanceof StageException s) {
      throw s;
    }
    if (first != null) {
      throw new StageException(ExitCode.RUNTIME_FAILURE, first.getMessage() == null ? first.toString() : first.getMessage(), first);
    }
    return outcomes[0];
  }

  private static boolean isEcho(Throwable t) {
    return t instanceof StageException s && s.getCause() instanceof CollectiveException || t instanceof CollectiveException;
  }

  /** The rank's collective: one rank alone; NCCL over the TCP control plane (GPUs); TCP (CPU nodes). */
  static Collective join(World world, int localRank, String run) {
    if (world.size() == 1) {
      if (world.gpus()) {
        Cuda.setDevice(0);
      }
      return SingleRank.INSTANCE;
    }
    int rank = world.globalRank(localRank);
    SocketGroup.Rendezvous where = new SocketGroup.Rendezvous(world.masterAddress(), world.masterPort(), run,
        world.rendezvousTimeout(), world.operationTimeout());
    Collective control = SocketGroup.join(rank, world.size(), where);
    if (!world.gpus()) {
      return control;
    }
    try {
      return NcclGroup.join(rank, world.size(), localRank, control, world.operationTimeout());
    } catch (RuntimeException | Error e) {
      control.abort("rank " + rank + " could not join NCCL: " + e.getMessage());
      control.close();
      throw e;
    }
  }

  private static Outcome rank(Job job, int localRank) throws StageException {
    World world = job.world();
    int rank = world.globalRank(localRank);
    Collective collective;
    try {
      collective = join(world, localRank, job.identity());
    } catch (CollectiveException e) {
      throw new StageException(ExitCode.RUNTIME_FAILURE, e.getMessage(), e);
    } catch (Cuda.CudaUnavailableException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    }
    try {
      return train(job, localRank, rank, collective);
    } catch (StageException e) {
      throw e;
    } catch (CollectiveException e) {
      throw new StageException(ExitCode.RUNTIME_FAILURE, e.getMessage(), e);
    } catch (DataException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    } catch (Cuda.CudaUnavailableException e) {
      throw new StageException(ExitCode.MISSING_INPUT, e.getMessage(), e);
    } catch (IOException | RuntimeException | Error e) {
      throw new StageException(ExitCode.RUNTIME_FAILURE, "rank " + rank + ": " + e, e);
    } finally {
      collective.close();
    }
  }

  /**
   * The rank's run. Any failure aborts the group before this rank's tensors are freed: the other ranks stop at once,
   * and no collective still in flight writes into freed memory.
   */
  private static Outcome train(Job job, int localRank, int rank, Collective collective)
      throws IOException, StageException {
    World world = job.world();
    boolean reporter = rank == 0;
    try (NDManager manager = NDManager.newBaseManager(Devices.of(world, localRank));
        TokenFile tokens = TokenFile.open(job.tokenFile())) {
      try {
        if (!world.gpus() && world.ranksPerNode() > 1) {
          NativeMemory.setThreads(Math.max(1, Runtime.getRuntime().availableProcessors() / world.ranksPerNode()));
        }
        CheckpointStore.Saved saved = job.saved();
        agreeOnCheckpoint(collective, saved, job.checkpoints().root());
        SampleStream stream = new SampleStream(tokens, job.sampler(), job.dataSeed(), job.poseSeed(), job.minTokens());
        ZeroModel model;
        Trainer trainer;
        try (TensorSource source = saved != null ? CheckpointStore.open(saved) : Checkpoint.open(job.baseDir())) {
          model = ZeroModel.load(job.base(), job.zeroStage(), collective, manager, job.plan().recomputeActivations(),
              source);
          trainer = new Trainer(manager, new Decoder(job.extended(), model, job.compute()), model, stream, job.plan(),
              job.checkpoints(), job.identity());
          if (saved != null) {
            trainer.resumeFrom(saved, (CheckpointStore.Stored) source);
          }
        } catch (CheckpointException e) {
          throw new StageException(ExitCode.MISSING_INPUT, e.getMessage()
              + (saved != null ? " (delete this checkpoint directory to resume from the one before it)" : ""), e);
        }
        try (model) {
          Double[] lastLoss = {null};
          try {
            trainer.run(job.until(), r -> {
              lastLoss[0] = r.loss();
              if (reporter) {
                report(job, r, trainer);
              }
            });
          } catch (TrainingDivergedException e) {
            // deterministic: a restart from the last checkpoint would diverge at the same step again
            throw new StageException(ExitCode.INVALID_CONFIGURATION, e.getMessage(), e);
          }
          if (trainer.step() < job.plan().steps()) {
            trainer.checkpoint(); // a stop on request resumes exactly here
          } else {
            export(job, collective, rank, trainer.lastCheckpointStep());
          }
          return new Outcome(trainer.step(), trainer.lastCheckpointStep(), lastLoss[0]);
        }
      } catch (Throwable e) {
        collective.abort(e.getMessage() == null ? e.toString() : e.getMessage());
        throw e;
      }
    }
  }

  /**
   * Every node must resume from the same checkpoint: each lists the shared workspace itself, and a file system that
   * caches directory listings (NFS) can show a node an older one.
   */
  static void agreeOnCheckpoint(Collective collective, CheckpointStore.Saved saved, Path root) throws StageException {
    double step = saved == null ? -1 : saved.step();
    double[] max = collective.allReduce(new double[] {step, -step}, Collective.Op.MAX);
    if (max[0] != step || -max[1] != step) {
      // a runtime failure: a file system's cached listing converges, and the restarted pods agree
      throw new StageException(ExitCode.RUNTIME_FAILURE, "rank " + collective.rank() + " sees checkpoint step "
          + (saved == null ? "none" : saved.step()) + " in " + root + ", other ranks see steps "
          + (long) -max[1] + " to " + (long) max[0] + " (-1: none): every node must see the same workspace (a "
          + "ReadWriteMany volume without stale directory caching)");
    }
  }

  private static void report(Job job, StepResult r, Trainer trainer) {
    for (ProgressListener l : job.listeners()) {
      l.step(r, job.plan().steps(), trainer.lastCheckpointStep());
    }
  }

  /** Every rank writes its share of the extended model's files from the final checkpoint (the one just written). */
  private static void export(Job job, Collective collective, int rank, Integer lastCheckpoint) throws IOException {
    if (lastCheckpoint == null || lastCheckpoint != job.plan().steps()) {
      throw new IllegalStateException("the run ended at step " + job.plan().steps() + " without its checkpoint");
    }
    CheckpointStore.Saved last = job.checkpoints().saved(lastCheckpoint);
    try (CheckpointStore.Stored weights = CheckpointStore.open(last)) {
      ModelExport.write(job.baseDir(), job.extension(), weights,
          new ArrayList<>(DecoderWeights.expectedShapes(job.base()).keySet()), job.extendedDir(),
          CheckpointWriter.DEFAULT_MAX_SHARD_BYTES, new ModelExport.Part(rank, collective.worldSize(), collective::barrier));
    }
    if (rank == 0) {
      job.log().printf(Locale.ROOT, "exported %s from %s%n", job.extendedDir(), last.directory().getFileName());
    }
  }
}
