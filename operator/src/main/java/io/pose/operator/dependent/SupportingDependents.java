package io.pose.operator.dependent;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.build.SupportingObjects;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Resolved;
import io.pose.operator.model.volcano.PodGroup;

/** The dependents of the supporting objects, one class per object, all thin wrappers over the builders. */
public final class SupportingDependents {
  private SupportingDependents() {}

  /** The rendered trainer config. */
  public static class TrainerConfig extends PoseDependent<ConfigMap> {
    public TrainerConfig() { super(ConfigMap.class); }
    @Override ConfigMap build(Resolved r) { return SupportingObjects.config(r); }
  }

  /** The progress ConfigMap: created once, then written only by the stage pods (never updated here). */
  public static class Progress extends KubernetesDependentResource<ConfigMap, ContextExtension>
      implements Creator<ConfigMap, ContextExtension>, GarbageCollected<ContextExtension> {
    public Progress() { super(ConfigMap.class); }

    @Override
    protected ConfigMap desired(ContextExtension primary, Context<ContextExtension> context) {
      return SupportingObjects.progress(ReconcilePlan.of(context).resolved());
    }
  }

  @KubernetesDependent(informer = @Informer(labelSelector = Labels.SELECTOR))
  public static class StageServiceAccount extends PoseDependent<ServiceAccount> {
    public StageServiceAccount() { super(ServiceAccount.class); }
    @Override ServiceAccount build(Resolved r) { return SupportingObjects.serviceAccount(r); }
  }

  @KubernetesDependent(informer = @Informer(labelSelector = Labels.SELECTOR))
  public static class StageRole extends PoseDependent<Role> {
    public StageRole() { super(Role.class); }
    @Override Role build(Resolved r) { return SupportingObjects.role(r); }
  }

  @KubernetesDependent(informer = @Informer(labelSelector = Labels.SELECTOR))
  public static class StageRoleBinding extends PoseDependent<RoleBinding> {
    public StageRoleBinding() { super(RoleBinding.class); }
    @Override RoleBinding build(Resolved r) { return SupportingObjects.roleBinding(r); }
  }

  @KubernetesDependent(informer = @Informer(labelSelector = Labels.SELECTOR))
  public static class RendezvousService extends PoseDependent<Service> {
    public RendezvousService() { super(Service.class); }
    @Override Service build(Resolved r) { return SupportingObjects.rendezvousService(r); }
  }

  @KubernetesDependent(informer = @Informer(labelSelector = Labels.SELECTOR))
  public static class TrainingPodGroup extends PoseDependent<PodGroup> {
    public TrainingPodGroup() { super(PodGroup.class); }
    @Override PodGroup build(Resolved r) { return SupportingObjects.podGroup(r); }
  }

  /**
   * Precondition: a PodGroup only for resources that ask for Volcano. (Its informer is activated only
   * where Volcano's CRD is installed, by JOSDK's CRDPresentActivationCondition; activation conditions act
   * on the whole controller, so they must not depend on one resource.)
   */
  public static class VolcanoRequested implements Condition<PodGroup, ContextExtension> {
    @Override
    public boolean isMet(DependentResource<PodGroup, ContextExtension> dependent, ContextExtension primary,
        Context<ContextExtension> context) {
      return ReconcilePlan.of(context).resolved().volcano();
    }
  }
}
