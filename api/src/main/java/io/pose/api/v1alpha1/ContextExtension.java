package io.pose.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn.Type;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;
import io.pose.api.validation.Rules;

/** A request to extend a RoPE model's context window with PoSE, from base model to published model. */
@Group(ContextExtension.GROUP)
@Version(ContextExtension.VERSION)
@Kind(ContextExtension.KIND)
@Plural("contextextensions")
@Singular("contextextension")
@ShortNames("cx")
@ValidationRule(value = Rules.NAME_CEL, message = "metadata.name " + Rules.NAME_MESSAGE, reason = "FieldValueInvalid")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = Type.STRING)
@AdditionalPrinterColumn(name = "Step", jsonPath = ".status.training.progress", type = Type.STRING)
@AdditionalPrinterColumn(name = "Loss", jsonPath = ".status.training.loss", type = Type.NUMBER)
@AdditionalPrinterColumn(name = "Passkey@Target", jsonPath = ".status.evaluation.passkeyAccuracyAtTarget", type = Type.NUMBER)
@AdditionalPrinterColumn(name = "Target", jsonPath = ".spec.targetContextLength", type = Type.INTEGER, priority = 1)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = Type.DATE)
public class ContextExtension extends CustomResource<ContextExtensionSpec, ContextExtensionStatus> implements Namespaced {

  public static final String GROUP = "pose.io";
  public static final String VERSION = "v1alpha1";
  public static final String KIND = "ContextExtension";
  public static final String API_VERSION = GROUP + "/" + VERSION;
  public static final String CRD_NAME = "contextextensions." + GROUP;
}
