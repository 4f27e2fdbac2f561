package io.pose.operator.model.volcano;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/** Volcano's PodGroup (scheduling.volcano.sh/v1beta1): all-or-nothing scheduling of the training pods. */
@Group("scheduling.volcano.sh")
@Version("v1beta1")
@Kind("PodGroup")
@Plural("podgroups")
public class PodGroup extends CustomResource<PodGroupSpec, PodGroupStatus> implements Namespaced {
}
