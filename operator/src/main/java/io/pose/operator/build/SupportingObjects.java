package io.pose.operator.build;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.pose.api.SpecIO;
import io.pose.api.contract.TrainerContract;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.WorkspaceVolume;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Names;
import io.pose.operator.model.Owners;
import io.pose.operator.model.Resolved;
import io.pose.operator.model.volcano.PodGroup;
import io.pose.operator.model.volcano.PodGroupSpec;
import java.util.List;
import java.util.Map;

/** Builds the objects that support the stage Jobs. Pure functions of the resolved resource. */
public final class SupportingObjects {
  private SupportingObjects() {}

  /** Verbs the stage pods hold on their own progress ConfigMap (and nothing else). */
  public static final List<String> STAGE_POD_VERBS = List.of("get", "update", "patch");

  /**
   * The trainer's configuration: the ContextExtension itself, as written (the trainer applies the same
   * defaults from the api module), with the identity fields a stage needs.
   */
  public static ConfigMap config(Resolved r) {
    ContextExtension doc = new ContextExtension();
    doc.setMetadata(new ObjectMetaBuilder()
        .withName(r.name())
        .withNamespace(r.namespace())
        .withUid(r.resource().getMetadata().getUid())
        .build());
    doc.setSpec(r.resource().getSpec());
    doc.setStatus(null);
    return new ConfigMapBuilder()
        .withMetadata(meta(r, Names.configMap(r.resource())))
        .withData(Map.of(TrainerContract.CONFIG_FILE_NAME, SpecIO.toYaml(doc)))
        .build();
  }

  /** The progress ConfigMap, created empty by the operator; stage pods fill their own keys. */
  public static ConfigMap progress(Resolved r) {
    ObjectMeta meta = meta(r, Names.progressConfigMap(r.resource()));
    meta.setAnnotations(Map.of("pose.io/progress-schema-version", String.valueOf(ProgressProtocol.SCHEMA_VERSION)));
    return new ConfigMapBuilder().withMetadata(meta).build();
  }

  public static ServiceAccount serviceAccount(Resolved r) {
    return new ServiceAccountBuilder().withMetadata(meta(r, Names.stageAccount(r.resource())))
        .withAutomountServiceAccountToken(true).build();
  }

  /**
   * Least privilege for stage pods: get, update and patch of their own progress ConfigMap, by name.
   * (resourceNames cannot authorize create, which is why the operator creates that ConfigMap.)
   */
  public static Role role(Resolved r) {
    PolicyRule rule = new PolicyRuleBuilder()
        .withApiGroups("")
        .withResources("configmaps")
        .withResourceNames(Names.progressConfigMap(r.resource()))
        .withVerbs(STAGE_POD_VERBS)
        .build();
    return new RoleBuilder().withMetadata(meta(r, Names.stageAccount(r.resource()))).withRules(rule).build();
  }

  public static RoleBinding roleBinding(Resolved r) {
    String name = Names.stageAccount(r.resource());
    return new RoleBindingBuilder()
        .withMetadata(meta(r, name))
        .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(name).endRoleRef()
        .addNewSubject().withKind("ServiceAccount").withName(name).withNamespace(r.namespace()).endSubject()
        .build();
  }

  /**
   * Headless Service for the training pods' stable DNS names. publishNotReadyAddresses lets ranks resolve
   * rank 0 before any pod is Ready (training pods have no readiness probe to pass during rendezvous).
   */
  public static Service rendezvousService(Resolved r) {
    return new ServiceBuilder()
        .withMetadata(meta(r, Names.rendezvousService(r.resource())))
        .withNewSpec()
          .withClusterIP("None")
          .withPublishNotReadyAddresses(true)
          .withSelector(Labels.trainingPods(r.resource()))
          .addNewPort().withName("rendezvous").withPort(TrainerContract.MASTER_PORT).withProtocol("TCP")
            .withNewTargetPort(TrainerContract.MASTER_PORT).endPort()
        .endSpec()
        .build();
  }

  public static PersistentVolumeClaim workspaceClaim(Resolved r) {
    WorkspaceVolume w = r.spec().getStorage().getWorkspace();
    return new PersistentVolumeClaimBuilder()
        .withMetadata(meta(r, Names.workspaceClaim(r.resource())))
        .withNewSpec()
          .withAccessModes(w.getAccessModes().stream().map(Enum::name).toList())
          .withStorageClassName(w.getStorageClassName())
          .withNewResources().withRequests(Map.of("storage", new Quantity(w.getSize()))).endResources()
        .endSpec()
        .build();
  }

  /** Volcano gang: the training pods are scheduled all together or not at all. */
  public static PodGroup podGroup(Resolved r) {
    PodGroup group = new PodGroup();
    group.setMetadata(meta(r, Names.podGroup(r.resource())));
    PodGroupSpec spec = new PodGroupSpec();
    spec.setMinMember(r.spec().getResources().getNodes());
    spec.setQueue(r.spec().getScheduling().getVolcano().getQueue());
    spec.setPriorityClassName(r.spec().getResources().getPriorityClassName());
    group.setSpec(spec);
    return group;
  }

  private static ObjectMeta meta(Resolved r, String name) {
    return new ObjectMetaBuilder().withName(name).withNamespace(r.namespace()).withLabels(Labels.of(r.resource()))
        .withOwnerReferences(Owners.controlledBy(r.resource())).build();
  }
}
