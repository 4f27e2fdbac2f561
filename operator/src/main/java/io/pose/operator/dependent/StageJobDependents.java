package io.pose.operator.dependent;

import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Matcher.Result;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.build.StageJobs;

/** The four stage Jobs. */
public final class StageJobDependents {
  private StageJobDependents() {}

  /**
   * A stage's Job. Created from the builder, never updated except {@code spec.suspend} (the pod template
   * is immutable; a changed spec cannot reach a Job that already exists), garbage-collected with its owner.
   */
  public abstract static class StageJob extends KubernetesDependentResource<Job, ContextExtension>
      implements Creator<Job, ContextExtension>, Updater<Job, ContextExtension>, GarbageCollected<ContextExtension> {

    private final Stage stage;

    StageJob(Stage stage) {
      super(Job.class);
      this.stage = stage;
    }

    public Stage stage() {
      return stage;
    }

    @Override
    protected Job desired(ContextExtension primary, Context<ContextExtension> context) {
      return StageJobs.build(ReconcilePlan.of(context).resolved(), stage);
    }

    /** Matches when suspension agrees; nothing else of an existing Job may change. */
    @Override
    public Result<Job> match(Job actual, ContextExtension primary, Context<ContextExtension> context) {
      // no desired Job is built: an existing Job is never compared with, or replaced by, a new template
      return Result.computed(Suspension.change(actual, ReconcilePlan.of(context).resolved()).isEmpty(), actual);
    }

    @Override
    public Job update(Job actual, Job desired, ContextExtension primary, Context<ContextExtension> context) {
      return Suspension.apply(context.getClient(), actual, ReconcilePlan.of(context).resolved());
    }
  }

  public static class FetchJob extends StageJob {
    public FetchJob() { super(Stage.FETCH); }
  }

  public static class TrainJob extends StageJob {
    public TrainJob() { super(Stage.TRAIN); }
  }

  public static class EvaluateJob extends StageJob {
    public EvaluateJob() { super(Stage.EVALUATE); }
  }

  public static class PublishJob extends StageJob {
    public PublishJob() { super(Stage.PUBLISH); }
  }

  /** Precondition: the reconciler decided that this stage's Job must exist. */
  public static class StageReached implements Condition<Job, ContextExtension> {
    @Override
    public boolean isMet(DependentResource<Job, ContextExtension> dependent, ContextExtension primary,
        Context<ContextExtension> context) {
      return ReconcilePlan.of(context).stageJobs().contains(((StageJob) dependent).stage());
    }
  }
}
