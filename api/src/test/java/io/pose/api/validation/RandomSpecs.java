package io.pose.api.validation;

import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import io.pose.api.v1alpha1.EvaluationSettings;
import io.pose.api.v1alpha1.ModelSource;
import io.pose.api.v1alpha1.PasskeyEvaluation;
import io.pose.api.v1alpha1.PerplexityEvaluation;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.PublishSettings;
import io.pose.api.v1alpha1.ResourceSettings;
import io.pose.api.v1alpha1.RopeScaling;
import io.pose.api.v1alpha1.SchedulingSettings;
import io.pose.api.v1alpha1.StorageSettings;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.api.v1alpha1.VolcanoSettings;
import io.pose.api.v1alpha1.WorkspaceVolume;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random specs that sit on both sides of every cross-field rule, for the CEL/Java agreement tests. */
public final class RandomSpecs {
  private RandomSpecs() {}

  private static final int[] LENGTHS = {64, 128, 2048, 4096, 8192, 16384, 32768, 65536};

  public static ContextExtensionSpec minimal() {
    ContextExtensionSpec s = new ContextExtensionSpec();
    s.setModel(new ModelSource());
    s.getModel().setSource("hf://mistralai/Mistral-7B-v0.1");
    s.setTargetContextLength(32768);
    s.setTraining(new TrainingSettings());
    s.getTraining().setData(data());
    return s;
  }

  public static ContextExtensionSpec spec(Random r) {
    ContextExtensionSpec s = minimal();
    s.setTargetContextLength(pick(r, LENGTHS));
    if (r.nextBoolean()) {
      s.getModel().setOriginalContextLength(pick(r, LENGTHS));
    }
    if (r.nextInt(3) > 0) {
      s.setPose(pose(r));
    }
    if (r.nextBoolean()) {
      s.setRopeScaling(rope(r));
    }
    training(s.getTraining(), r);
    if (r.nextBoolean()) {
      ResourceSettings res = new ResourceSettings();
      if (r.nextBoolean()) {
        res.setNodes(1 + r.nextInt(4));
      }
      if (r.nextBoolean()) {
        res.setGpusPerNode(r.nextInt(9));
      }
      s.setResources(res);
    }
    if (r.nextBoolean()) {
      s.setStorage(storage(r));
    }
    if (r.nextBoolean()) {
      s.setEvaluation(evaluation(r));
    }
    if (r.nextBoolean()) {
      PublishSettings p = new PublishSettings();
      p.setTarget("hf://my-org/extended");
      if (r.nextBoolean()) {
        p.setRequirePasskeyAccuracy(0.9);
      }
      s.setPublish(p);
    }
    if (r.nextInt(3) == 0) {
      SchedulingSettings sc = new SchedulingSettings();
      if (r.nextBoolean()) {
        sc.setQueueName("team-a");
      }
      if (r.nextBoolean()) {
        sc.setVolcano(new VolcanoSettings());
      }
      s.setScheduling(sc);
    }
    return s;
  }

  /** Changes one field, immutable or not, at random. */
  public static ContextExtensionSpec mutate(ContextExtensionSpec s, Random r) {
    switch (r.nextInt(10)) {
      case 0 -> s.setTargetContextLength(s.getTargetContextLength() * 2);
      case 1 -> s.setPose(s.getPose() == null ? pose(r) : null);
      case 2 -> s.setRopeScaling(s.getRopeScaling() == null ? rope(r) : null);
      case 3 -> s.getTraining().setSteps(s.getTraining().getSteps() == null ? 7 : s.getTraining().getSteps() + 1);
      case 4 -> s.getModel().setSource("hf://mistralai/Mistral-7B-v0.3");
      case 5 -> s.setStorage(s.getStorage() == null ? storage(r) : null);
      case 6 -> s.setSuspend(!s.suspended());
      case 7 -> s.setEvaluation(s.getEvaluation() == null ? evaluation(r) : null);
      case 8 -> {
        ResourceSettings res = new ResourceSettings();
        res.setNodes(2);
        s.setResources(res);
      }
      default -> {
        if (s.getPose() != null) {
          s.getPose().setSeed(s.getPose().getSeed() == null ? 1L : s.getPose().getSeed() + 1);
        } else {
          s.setPose(new PoseSettings());
        }
      }
    }
    return s;
  }

  private static PoseSettings pose(Random r) {
    PoseSettings p = new PoseSettings();
    if (r.nextBoolean()) {
      p.setTrainingWindow(pick(r, LENGTHS));
    }
    if (r.nextBoolean()) {
      p.setChunks(r.nextBoolean() ? 1 + r.nextInt(4) : pick(r, LENGTHS) + r.nextInt(3) - 1);
    }
    if (r.nextBoolean()) {
      p.setMethod(PoseSettings.Method.values()[r.nextInt(3)]);
    }
    return p;
  }

  private static RopeScaling rope(Random r) {
    RopeScaling rope = new RopeScaling();
    if (r.nextBoolean()) {
      rope.setType(RopeScaling.Type.values()[r.nextInt(4)]);
    }
    if (r.nextBoolean()) {
      rope.setFactor(4.0);
    }
    switch (r.nextInt(4)) {
      case 0 -> rope.setBetaFast(32.0);
      case 1 -> rope.setTruncate(false);
      case 2 -> rope.setMscale(0.707);
      default -> { }
    }
    return rope;
  }

  private static void training(TrainingSettings t, Random r) {
    if (r.nextBoolean()) {
      t.setGlobalBatchSize(pick(r, new int[] {1, 2, 4, 8, 12, 16, 24, 32, 64, 96}));
    }
    if (r.nextBoolean()) {
      t.setMicroBatchSize(pick(r, new int[] {1, 2, 4, 8, 128}));
    }
    if (r.nextBoolean()) {
      t.setSteps(pick(r, new int[] {5, 10, 1000}));
    }
    if (r.nextBoolean()) {
      t.setWarmupSteps(pick(r, new int[] {0, 10, 20, 1001}));
    }
  }

  private static StorageSettings storage(Random r) {
    StorageSettings st = new StorageSettings();
    if (r.nextInt(4) > 0) {
      WorkspaceVolume w = new WorkspaceVolume();
      if (r.nextBoolean()) {
        List<WorkspaceVolume.AccessMode> modes = new ArrayList<>();
        for (WorkspaceVolume.AccessMode m : WorkspaceVolume.AccessMode.values()) {
          if (r.nextBoolean()) {
            modes.add(m);
          }
        }
        w.setAccessModes(modes);
      }
      if (r.nextBoolean()) {
        w.setExistingClaim("shared-claim");
      }
      if (r.nextBoolean()) {
        w.setSize("10Gi");
      }
      if (r.nextInt(4) == 0) {
        w.setStorageClassName("fast");
      }
      st.setWorkspace(w);
    }
    return st;
  }

  private static EvaluationSettings evaluation(Random r) {
    EvaluationSettings e = new EvaluationSettings();
    if (r.nextBoolean()) {
      PasskeyEvaluation p = new PasskeyEvaluation();
      if (r.nextBoolean()) {
        p.setLengths(lengths(r));
      }
      e.setPasskey(p);
    }
    if (r.nextBoolean()) {
      PerplexityEvaluation p = new PerplexityEvaluation();
      p.setData(data());
      if (r.nextBoolean()) {
        p.setLengths(lengths(r));
      }
      e.setPerplexity(p);
    }
    return e;
  }

  private static List<Integer> lengths(Random r) {
    List<Integer> l = new ArrayList<>();
    int n = 1 + r.nextInt(3);
    for (int i = 0; i < n; i++) {
      l.add(r.nextInt(5) == 0 ? 1 : pick(r, LENGTHS));
    }
    return l;
  }

  private static DataSource data() {
    DataSource d = new DataSource();
    d.setSource("s3://corpus/pile-long.jsonl");
    return d;
  }

  private static int pick(Random r, int[] values) {
    return values[r.nextInt(values.length)];
  }
}
