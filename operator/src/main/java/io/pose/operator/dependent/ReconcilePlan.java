package io.pose.operator.dependent;

import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.model.Resolved;
import java.util.Set;

/**
 * What the reconciler decided before running the workflow: the resolved resource, and which stage Jobs
 * must exist. Dependents read it from the reconciliation context and never decide anything themselves.
 *
 * @param resolved the resource with defaults applied
 * @param stageJobs the stages whose Job must exist now (already created ones, plus the next one if allowed)
 */
public record ReconcilePlan(Resolved resolved, Set<Stage> stageJobs) {

  private static final String KEY = "pose.reconcile-plan";

  public void storeIn(Context<ContextExtension> context) {
    context.managedWorkflowAndDependentResourceContext().put(KEY, this);
  }

  public static ReconcilePlan of(Context<ContextExtension> context) {
    return context.managedWorkflowAndDependentResourceContext().getMandatory(KEY, ReconcilePlan.class);
  }
}
