package io.pose.operator.model;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.pose.api.v1alpha1.ContextExtension;
import java.util.List;

/** Controller owner references: Kubernetes garbage-collects what a ContextExtension owns when it is deleted. */
public final class Owners {
  private Owners() {}

  /**
   * The resource as controller (what {@code kubectl describe} shows as "Controlled By"); blockOwnerDeletion
   * keeps foreground deletion of the resource waiting for its Jobs. Empty for a resource not stored yet
   * (no uid), as when rendering offline.
   */
  public static List<OwnerReference> controlledBy(ContextExtension cx) {
    if (cx.getMetadata().getUid() == null) {
      return List.of();
    }
    return List.of(new OwnerReferenceBuilder()
        .withApiVersion(cx.getApiVersion())
        .withKind(cx.getKind())
        .withName(cx.getMetadata().getName())
        .withUid(cx.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build());
  }
}
