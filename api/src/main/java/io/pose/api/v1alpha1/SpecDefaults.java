package io.pose.api.v1alpha1;

import io.pose.api.SpecIO;
import java.util.ArrayList;
import java.util.List;

/**
 * Fills in every default of a spec, returning a copy. The few defaults that depend on the base model's
 * original context length (RoPE factor, training window, evaluation lengths) are filled only once that
 * length is known: from the spec, or from the model's config.json after the Fetch stage.
 */
public final class SpecDefaults {
  private SpecDefaults() {}

  /**
   * @param spec the spec as written
   * @param modelOriginalContextLength the original length read from the model, or null if not known yet
   */
  public static ContextExtensionSpec apply(ContextExtensionSpec spec, Integer modelOriginalContextLength) {
    ContextExtensionSpec s = SpecIO.copy(spec);
    if (s.getModel() == null) {
      s.setModel(new ModelSource());
    }
    if (s.getModel().getOriginalContextLength() == null) {
      s.getModel().setOriginalContextLength(modelOriginalContextLength);
    }
    Integer original = s.getModel().getOriginalContextLength();
    Integer target = s.getTargetContextLength();

    RopeScaling rope = orNew(s.getRopeScaling(), RopeScaling::new);
    s.setRopeScaling(rope);
    if (rope.getType() == null) {
      rope.setType(RopeScaling.Type.YARN);
    }
    if (rope.getFactor() == null && original != null && target != null) {
      rope.setFactor((double) target / original);
    }

    PoseSettings pose = orNew(s.getPose(), PoseSettings::new);
    s.setPose(pose);
    if (pose.getMethod() == null) {
      pose.setMethod(PoseSettings.Method.POSE);
    }
    if (pose.getTrainingWindow() == null) {
      pose.setTrainingWindow(original);
    }
    if (pose.getChunks() == null && pose.getMethod() == PoseSettings.Method.POSE) {
      pose.setChunks(Defaults.POSE_CHUNKS);
    }
    if (pose.getSeed() == null) {
      pose.setSeed(Defaults.POSE_SEED);
    }

    TrainingSettings t = orNew(s.getTraining(), TrainingSettings::new);
    s.setTraining(t);
    if (t.getData() != null) {
      data(t.getData());
      if (t.getData().getMinTokens() == null) {
        t.getData().setMinTokens(pose.getTrainingWindow());
      }
    }
    t.setSteps(or(t.getSteps(), Defaults.STEPS));
    t.setGlobalBatchSize(or(t.getGlobalBatchSize(), Defaults.GLOBAL_BATCH_SIZE));
    t.setMicroBatchSize(or(t.getMicroBatchSize(), Defaults.MICRO_BATCH_SIZE));
    t.setLearningRate(or(t.getLearningRate(), Defaults.LEARNING_RATE));
    t.setWarmupSteps(or(t.getWarmupSteps(), Defaults.WARMUP_STEPS));
    t.setLrSchedule(or(t.getLrSchedule(), TrainingSettings.LrSchedule.CONSTANT));
    t.setWeightDecay(or(t.getWeightDecay(), Defaults.WEIGHT_DECAY));
    t.setMaxGradNorm(or(t.getMaxGradNorm(), Defaults.MAX_GRAD_NORM));
    t.setPrecision(or(t.getPrecision(), TrainingSettings.Precision.BF16));
    t.setZeroStage(or(t.getZeroStage(), Defaults.ZERO_STAGE));
    t.setActivationCheckpointing(or(t.getActivationCheckpointing(), Defaults.ACTIVATION_CHECKPOINTING));
    t.setCheckpointEverySteps(or(t.getCheckpointEverySteps(), Defaults.CHECKPOINT_EVERY_STEPS));
    t.setKeepCheckpoints(or(t.getKeepCheckpoints(), Defaults.KEEP_CHECKPOINTS));
    t.setSeed(or(t.getSeed(), Defaults.TRAINING_SEED));
    t.setMaxRestarts(or(t.getMaxRestarts(), Defaults.MAX_RESTARTS));

    ResourceSettings r = orNew(s.getResources(), ResourceSettings::new);
    s.setResources(r);
    r.setNodes(or(r.getNodes(), Defaults.NODES));
    r.setGpusPerNode(or(r.getGpusPerNode(), Defaults.GPUS_PER_NODE));
    r.setGpuResource(or(r.getGpuResource(), Defaults.GPU_RESOURCE));

    StorageSettings st = orNew(s.getStorage(), StorageSettings::new);
    s.setStorage(st);
    WorkspaceVolume w = orNew(st.getWorkspace(), WorkspaceVolume::new);
    st.setWorkspace(w);
    if (w.getExistingClaim() == null) {
      w.setSize(or(w.getSize(), Defaults.WORKSPACE_SIZE));
      if (w.getAccessModes() == null) {
        w.setAccessModes(List.of(r.getNodes() > 1 ? WorkspaceVolume.AccessMode.ReadWriteMany
            : WorkspaceVolume.AccessMode.ReadWriteOnce));
      }
    }

    if (s.getEvaluation() != null) {
      EvaluationSettings e = s.getEvaluation();
      e.setCompareWithBase(or(e.getCompareWithBase(), Defaults.COMPARE_WITH_BASE));
      e.setGpus(or(e.getGpus(), Defaults.EVALUATION_GPUS));
      if (e.getPasskey() != null) {
        PasskeyEvaluation p = e.getPasskey();
        p.setTrials(or(p.getTrials(), Defaults.PASSKEY_TRIALS));
        p.setSeed(or(p.getSeed(), Defaults.PASSKEY_SEED));
        if (p.getLengths() == null && original != null && target != null) {
          p.setLengths(doublingLengths(original, target));
        }
      }
      if (e.getPerplexity() != null) {
        PerplexityEvaluation p = e.getPerplexity();
        if (p.getData() != null) {
          data(p.getData());
        }
        p.setStride(or(p.getStride(), Defaults.PERPLEXITY_STRIDE));
        p.setMode(or(p.getMode(), PerplexityEvaluation.Mode.SLIDING_WINDOW));
        p.setMaxDocuments(or(p.getMaxDocuments(), Defaults.PERPLEXITY_MAX_DOCUMENTS));
        if (p.getLengths() == null && original != null && target != null) {
          p.setLengths(doublingLengths(original, target));
        }
      }
      if (e.getBenchmarks() != null) {
        for (BenchmarkTask b : e.getBenchmarks()) {
          b.setShots(or(b.getShots(), 0));
          if (b.getData() != null) {
            data(b.getData());
          }
        }
      }
    }
    if (s.getPublish() != null && s.getPublish().getPrivateRepository() == null) {
      s.getPublish().setPrivateRepository(Defaults.PUBLISH_PRIVATE);
    }
    if (s.getSuspend() == null) {
      s.setSuspend(false);
    }
    if (s.getWorkspaceRetention() == null) {
      s.setWorkspaceRetention(WorkspaceRetention.RetainCheckpoints);
    }
    return s;
  }

  /** The original length, then doubling, always ending at the target: 8192 -> 32768 gives 8192, 16384, 32768. */
  public static List<Integer> doublingLengths(int original, int target) {
    List<Integer> lengths = new ArrayList<>();
    for (long l = original; l < target; l *= 2) {
      lengths.add((int) l);
    }
    lengths.add(target);
    return lengths;
  }

  private static void data(DataSource d) {
    d.setFormat(or(d.getFormat(), DataSource.Format.JSONL));
    if (d.getFormat() == DataSource.Format.JSONL) {
      d.setTextField(or(d.getTextField(), Defaults.DATA_TEXT_FIELD));
    }
  }

  private static <T> T or(T value, T fallback) {
    return value != null ? value : fallback;
  }

  private static <T> T orNew(T value, java.util.function.Supplier<T> create) {
    return value != null ? value : create.get();
  }
}
