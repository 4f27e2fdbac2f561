package io.pose.operator.model;

import io.pose.api.contract.TrainerContract;
import io.pose.api.progress.ProgressProtocol;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;

/** Every name the operator derives from a ContextExtension, in one place. */
public final class Names {
  private Names() {}

  public static String job(ContextExtension cx, Stage stage) {
    return name(cx) + "-" + stage.command();
  }

  /** The rendered trainer config (the resource itself, as YAML). */
  public static String configMap(ContextExtension cx) {
    return name(cx) + "-config";
  }

  public static String progressConfigMap(ContextExtension cx) {
    return ProgressProtocol.configMapName(name(cx));
  }

  /** ServiceAccount, Role and RoleBinding of the stage pods share this name. */
  public static String stageAccount(ContextExtension cx) {
    return name(cx) + "-stage";
  }

  /** The headless Service that gives training pods stable DNS names for rendezvous. */
  public static String rendezvousService(ContextExtension cx) {
    return name(cx) + "-rdzv";
  }

  /** The workspace claim the operator creates (when spec.storage.workspace.existingClaim is not set). */
  public static String workspaceClaim(ContextExtension cx) {
    return name(cx) + "-workspace";
  }

  /** The Volcano PodGroup of the training Job. */
  public static String podGroup(ContextExtension cx) {
    return job(cx, Stage.TRAIN);
  }

  /**
   * Rank 0's stable address: pods of an Indexed Job whose subdomain is a headless Service are reachable at
   * {@code <job>-<index>.<service>.<namespace>.svc}.
   */
  public static String masterAddress(ContextExtension cx) {
    return job(cx, Stage.TRAIN) + "-0." + rendezvousService(cx) + "." + cx.getMetadata().getNamespace() + ".svc";
  }

  /** The secret volume's mount path for a Secret. */
  public static String secretMountPath(String secretName) {
    return TrainerContract.SECRETS_DIR + "/" + secretName;
  }

  private static String name(ContextExtension cx) {
    return cx.getMetadata().getName();
  }
}
