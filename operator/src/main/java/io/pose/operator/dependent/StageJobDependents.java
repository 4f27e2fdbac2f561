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
import io.pose.operator.model.Labels;
import io.pose.operator.model.Resolved;
import java.util.Objects;

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
      Job desired = desired(primary, context);
      return Result.computed(Objects.equals(desiredSuspend(actual, context), actualSuspend(actual)), desired);
    }

    @Override
    public Job update(Job actual, Job desired, ContextExtension primary, Context<ContextExtension> context) {
      boolean suspend = desiredSuspend(actual, context);
      boolean byUser = ReconcilePlan.of(context).resolved().spec().suspended();
      return context.getClient().resource(actual).edit(job -> {
        job.getSpec().setSuspend(suspend);
        if (byUser) {
          job.getMetadata().getAnnotations().put(Labels.SUSPENDED_BY_SPEC, "true");
        } else {
          job.getMetadata().getAnnotations().remove(Labels.SUSPENDED_BY_SPEC);
        }
        return job;
      });
    }

    /**
     * spec.suspend wins. Otherwise a Job is resumed, except one waiting for Kueue: Kueue owns the suspend
     * field of the Jobs it queues and lifts it when it admits them.
     */
    private boolean desiredSuspend(Job actual, Context<ContextExtension> context) {
      Resolved r = ReconcilePlan.of(context).resolved();
      if (r.spec().suspended()) {
        return true;
      }
      return r.kueue() && actualSuspend(actual) && !wasSuspendedByUser(actual);
    }

    private static boolean actualSuspend(Job job) {
      return Boolean.TRUE.equals(job.getSpec().getSuspend());
    }

    private static boolean wasSuspendedByUser(Job job) {
      return job.getMetadata().getAnnotations() != null
          && "true".equals(job.getMetadata().getAnnotations().get(Labels.SUSPENDED_BY_SPEC));
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
