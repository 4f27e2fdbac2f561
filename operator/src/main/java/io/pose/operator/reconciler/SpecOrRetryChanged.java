package io.pose.operator.reconciler;

import io.javaoperatorsdk.operator.processing.event.source.filter.OnUpdateFilter;
import io.pose.api.v1alpha1.ContextExtension;
import java.util.Objects;

/**
 * Which updates of a ContextExtension start a reconciliation: a new generation (a spec change), a new value of the
 * pose.io/retry annotation (metadata, so the generation stays), or the start of its deletion. Not the operator's
 * own status writes, nor other metadata edits. JOSDK's generation-aware processing would drop the annotation, so it
 * is off and this filter takes its place.
 */
public class SpecOrRetryChanged implements OnUpdateFilter<ContextExtension> {

  @Override
  public boolean accept(ContextExtension updated, ContextExtension old) {
    return !Objects.equals(updated.getMetadata().getGeneration(), old.getMetadata().getGeneration())
        || !Objects.equals(retry(updated), retry(old))
        || (updated.getMetadata().getDeletionTimestamp() != null && old.getMetadata().getDeletionTimestamp() == null);
  }

  private static String retry(ContextExtension cx) {
    return cx.getMetadata().getAnnotations() == null ? null : cx.getMetadata().getAnnotations().get(Retry.ANNOTATION);
  }
}
