package io.pose.operator;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.operator.config.OperatorSettings;
import io.pose.operator.model.Resolved;

/** Parsed examples with the metadata the API server would add, resolved with the operator's defaults. */
public final class Fixtures {
  private Fixtures() {}

  public static final String NAMESPACE = "test";
  public static final String UID = "3b6f1c7e-8a2d-4c5b-9e0f-1a2b3c4d5e6f";
  public static final OperatorSettings SETTINGS = OperatorSettings.defaults();

  /** An example with namespace (kept when the example names one), uid and generation set. */
  public static ContextExtension example(String file) {
    ContextExtension cx = OperatorHarness.example(file);
    if (cx.getMetadata().getNamespace() == null) {
      cx.getMetadata().setNamespace(NAMESPACE);
    }
    cx.getMetadata().setUid(UID);
    cx.getMetadata().setGeneration(1L);
    return cx;
  }

  /** Resolves with the model's original length where the example does not state it (llama2: 4096). */
  public static Resolved resolve(ContextExtension cx) {
    Integer fromModel = cx.getSpec().getModel().getOriginalContextLength() == null ? 4096 : null;
    return Resolved.of(cx, SETTINGS, fromModel);
  }

  public static Resolved resolved(String file) {
    return resolve(example(file));
  }
}
