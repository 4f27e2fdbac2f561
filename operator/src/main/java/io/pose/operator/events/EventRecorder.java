package io.pose.operator.events;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.model.Labels;
import io.pose.operator.status.StatusAssembler.Event;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Records Kubernetes Events on a ContextExtension (what {@code kubectl describe cx} shows). */
public class EventRecorder {
  private static final Logger LOG = LoggerFactory.getLogger(EventRecorder.class);

  private final KubernetesClient client;

  public EventRecorder(KubernetesClient client) {
    this.client = client;
  }

  /** Records the events; a failure to record is logged, never thrown (events are best effort). */
  public void record(ContextExtension cx, List<Event> events) {
    for (Event e : events) {
      String now = Instant.now().toString();
      var event = new EventBuilder()
          .withNewMetadata()
            .withName(cx.getMetadata().getName() + "." + UUID.randomUUID().toString().replace("-", "").substring(0, 16))
            .withNamespace(cx.getMetadata().getNamespace())
            .withLabels(java.util.Map.of(Labels.CONTEXT_EXTENSION, cx.getMetadata().getName()))
          .endMetadata()
          .withInvolvedObject(new ObjectReferenceBuilder()
              .withApiVersion(cx.getApiVersion())
              .withKind(cx.getKind())
              .withName(cx.getMetadata().getName())
              .withNamespace(cx.getMetadata().getNamespace())
              .withUid(cx.getMetadata().getUid())
              .withResourceVersion(cx.getMetadata().getResourceVersion())
              .build())
          .withType(e.type())
          .withReason(e.reason())
          .withMessage(e.message().length() > 1024 ? e.message().substring(0, 1021) + "..." : e.message())
          .withFirstTimestamp(now)
          .withLastTimestamp(now)
          .withCount(1)
          .withNewSource().withComponent(Labels.OPERATOR).endSource()
          .withReportingComponent(Labels.OPERATOR)
          .withReportingInstance(System.getenv().getOrDefault("HOSTNAME", Labels.OPERATOR))
          .build();
      try {
        client.v1().events().inNamespace(cx.getMetadata().getNamespace()).resource(event).create();
      } catch (KubernetesClientException ex) {
        LOG.warn("could not record event {} on {}/{}: {}", e.reason(), cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(), ex.getMessage());
      }
    }
  }
}
