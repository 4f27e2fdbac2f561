package io.pose.operator.reconciler;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Resolved;
import io.pose.operator.model.volcano.PodGroup;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The few reads the reconciler makes outside its informers, each only when a decision needs it. */
class ClusterLookups {
  private static final Duration CRD_RECHECK = Duration.ofMinutes(1);

  private final KubernetesClient client;
  private final Clock clock;
  private volatile Boolean volcanoInstalled;
  private volatile Instant volcanoCheckedAt = Instant.EPOCH;

  ClusterLookups(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  /** The first Secret the stage needs that does not exist, with the field that names it. */
  Optional<Resolved.SecretRef> missingSecret(String namespace, List<Resolved.SecretRef> secrets) {
    for (Resolved.SecretRef ref : secrets) {
      if (client.secrets().inNamespace(namespace).withName(ref.secretName()).get() == null) {
        return Optional.of(ref);
      }
    }
    return Optional.empty();
  }

  /** The pods of a Job, to explain its failure. */
  List<Pod> podsOf(String namespace, String jobName) {
    return client.pods().inNamespace(namespace).withLabel(Labels.JOB_NAME, jobName).list().getItems();
  }

  /** Whether Volcano's PodGroup CRD is installed (cached for a minute). */
  boolean volcanoInstalled() {
    Instant now = clock.instant();
    if (volcanoInstalled == null || (!volcanoInstalled && now.isAfter(volcanoCheckedAt.plus(CRD_RECHECK)))) {
      volcanoInstalled = client.apiextensions().v1().customResourceDefinitions()
          .withName(HasMetadata.getFullResourceName(PodGroup.class)).get() != null;
      volcanoCheckedAt = now;
    }
    return volcanoInstalled;
  }
}
