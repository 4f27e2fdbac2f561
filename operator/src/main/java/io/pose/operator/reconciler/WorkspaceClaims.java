package io.pose.operator.reconciler;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.pose.api.v1alpha1.WorkspaceRetention;
import io.pose.operator.build.SupportingObjects;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Owners;
import io.pose.operator.model.Resolved;
import io.pose.operator.status.Problem;
import io.pose.operator.status.StatusAssembler.Event;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The workspace claim the operator creates, kept out of JOSDK's workflow because its owner reference comes and goes:
 * while the claim is owned, the garbage collector deletes it with the resource; once spec.workspaceRetention says to
 * keep it (RetainCheckpoints after the first checkpoint, or Retain), the owner reference is removed, so deleting the
 * resource, in the foreground or the background, leaves the claim and its checkpoints. A resource of the same name
 * created later adopts the kept claim (its label names the resource) and resumes from its checkpoints. As a
 * GarbageCollected dependent, JOSDK would neither find an unowned claim nor leave it alone.
 */
final class WorkspaceClaims {

  /** On a kept claim: why it is kept, for whoever finds it later. */
  static final String RETAINED = "pose.io/retained";

  private WorkspaceClaims() {}

  /** What this step did: an event to record, or a problem that holds the run. */
  record Outcome(Optional<Event> event, Optional<Problem> problem) {
    static final Outcome NOTHING = new Outcome(Optional.empty(), Optional.empty());
  }

  /**
   * Creates the claim when missing and sets its owner reference as the retention policy says.
   *
   * @param checkpoint the step of the last complete checkpoint, or null while there is none
   */
  static Outcome reconcile(KubernetesClient client, Resolved r, Integer checkpoint) {
    if (!r.createsWorkspaceClaim()) {
      return Outcome.NOTHING;
    }
    WorkspaceRetention policy = WorkspaceRetention.of(r.spec());
    PersistentVolumeClaim desired = SupportingObjects.workspaceClaim(r);
    String name = desired.getMetadata().getName();
    var claims = client.persistentVolumeClaims().inNamespace(r.namespace());
    PersistentVolumeClaim actual = claims.withName(name).get();
    // a claim kept from an earlier run holds its checkpoints: it stays kept until Delete is asked for
    boolean keptBefore = actual != null && actual.getMetadata().getAnnotations() != null
        && actual.getMetadata().getAnnotations().containsKey(RETAINED);
    boolean keep = policy == WorkspaceRetention.Retain || (policy == WorkspaceRetention.RetainCheckpoints
        && ((checkpoint != null && checkpoint > 0) || keptBefore));
    String why = policy == WorkspaceRetention.Retain ? "spec.workspaceRetention is Retain"
        : "training wrote a checkpoint (step " + checkpoint + ") and spec.workspaceRetention is RetainCheckpoints";
    if (actual == null) {
      if (keep) {
        desired.getMetadata().setOwnerReferences(List.of());
        desired.getMetadata().setAnnotations(Map.of(RETAINED, why, ADOPTED_BY, r.resource().getMetadata().getUid()));
      }
      try {
        claims.resource(desired).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
      return Outcome.NOTHING;
    }
    String owner = actual.getMetadata().getLabels() == null ? null
        : actual.getMetadata().getLabels().get(Labels.CONTEXT_EXTENSION);
    if (!r.resource().getMetadata().getName().equals(owner)) {
      return new Outcome(Optional.empty(), Optional.of(new Problem("WorkspaceClaimConflict", "PersistentVolumeClaim "
          + name + " exists but was not created for this ContextExtension (its label " + Labels.CONTEXT_EXTENSION
          + " is " + owner + "); delete it or name it in spec.storage.workspace.existingClaim")));
    }
    List<OwnerReference> refs = actual.getMetadata().getOwnerReferences() == null ? List.of()
        : actual.getMetadata().getOwnerReferences();
    String uid = r.resource().getMetadata().getUid();
    boolean owned = refs.stream().anyMatch(o -> uid.equals(o.getUid()));
    boolean foreign = refs.stream().anyMatch(o -> !uid.equals(o.getUid()));
    if (foreign) {
      // owned by an earlier resource of the same name that is being deleted: the garbage collector takes it
      return new Outcome(Optional.empty(), Optional.of(new Problem("WorkspaceClaimConflict", "PersistentVolumeClaim "
          + name + " still belongs to an earlier ContextExtension of this name that is being deleted")));
    }
    if (keep && owned) {
      patch(client, r, name, List.of(), why);
      return new Outcome(Optional.of(new Event("Normal", "WorkspaceRetained", "PersistentVolumeClaim " + name
          + " will be kept if this resource is deleted: " + why)), Optional.empty());
    }
    if (!keep && !owned) {
      patch(client, r, name, Owners.controlledBy(r.resource()), null);
      boolean adopted = actual.getMetadata().getAnnotations() != null
          && actual.getMetadata().getAnnotations().containsKey(RETAINED);
      return new Outcome(Optional.of(new Event("Normal", adopted ? "WorkspaceAdopted" : "WorkspaceOwned",
          "PersistentVolumeClaim " + name + " is deleted with this resource (spec.workspaceRetention is " + policy + ")")),
          Optional.empty());
    }
    if (keep && !owned && keptBefore && refs.isEmpty() && !Boolean.TRUE.equals(adoptedBy(actual, uid))) {
      // a kept claim found by a new resource of the same name: it carries on with its checkpoints
      patch(client, r, name, List.of(), actual.getMetadata().getAnnotations().get(RETAINED), uid);
      return new Outcome(Optional.of(new Event("Normal", "WorkspaceAdopted", "PersistentVolumeClaim " + name
          + " was kept from an earlier run (" + actual.getMetadata().getAnnotations().get(RETAINED)
          + "): training resumes from its checkpoints")), Optional.empty());
    }
    return Outcome.NOTHING;
  }

  /** The uid of the resource that last found this kept claim, if it is this one. */
  private static Boolean adoptedBy(PersistentVolumeClaim claim, String uid) {
    return claim.getMetadata().getAnnotations() != null && uid.equals(claim.getMetadata().getAnnotations().get(ADOPTED_BY));
  }

  /** On a kept claim: the uid of the resource that uses it now. */
  static final String ADOPTED_BY = "pose.io/used-by";

  private static void patch(KubernetesClient client, Resolved r, String name, List<OwnerReference> owners, String retained) {
    patch(client, r, name, owners, retained, retained == null ? null : r.resource().getMetadata().getUid());
  }

  private static void patch(KubernetesClient client, Resolved r, String name, List<OwnerReference> owners, String retained,
      String usedBy) {
    Map<String, Object> metadata = new java.util.LinkedHashMap<>();
    metadata.put("ownerReferences", owners);
    java.util.HashMap<String, Object> annotations = new java.util.HashMap<>();
    annotations.put(RETAINED, retained); // null removes it
    annotations.put(ADOPTED_BY, usedBy);
    metadata.put("annotations", annotations);
    try {
      String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of("metadata", metadata));
      client.persistentVolumeClaims().inNamespace(r.namespace()).withName(name)
          .patch(PatchContext.of(PatchType.JSON_MERGE), json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
