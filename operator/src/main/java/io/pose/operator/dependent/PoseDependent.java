package io.pose.operator.dependent;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.model.Resolved;

/** A supporting object kept equal to what its builder says (created, updated, garbage-collected with its owner). */
abstract class PoseDependent<R extends HasMetadata> extends CRUDKubernetesDependentResource<R, ContextExtension> {

  PoseDependent(Class<R> type) {
    super(type);
  }

  abstract R build(Resolved resolved);

  @Override
  protected R desired(ContextExtension primary, Context<ContextExtension> context) {
    return build(ReconcilePlan.of(context).resolved());
  }
}
