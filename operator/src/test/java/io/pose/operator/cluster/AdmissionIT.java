package io.pose.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.FieldValidateable.Validation;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.pose.api.LocalPaths;
import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.validation.RandomSpecs;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.operator.OperatorHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CRD on a real API server: its OpenAPI schema, CEL rules (with their cost budget) and transition rules are
 * enforced by kube-apiserver itself, and agree with the Java validator that the operator and `pose run` use.
 */
class AdmissionIT {

  static final String NAMESPACE = "admission-it";
  static ControlPlane plane;
  static KubernetesClient admin;

  @BeforeAll
  static void installCrd() {
    plane = ControlPlane.shared();
    plane.namespace(NAMESPACE);
    admin = plane.admin();
    OperatorProcess.installCrd(admin);
  }

  @AfterAll
  static void close() {
    if (admin != null) {
      admin.resources(ContextExtension.class).inNamespace(NAMESPACE).delete();
      admin.close();
    }
  }

  private static ContextExtension resource(String name, ContextExtensionSpec spec) {
    ContextExtension cx = new ContextExtension();
    cx.getMetadata().setName(name);
    cx.getMetadata().setNamespace(NAMESPACE);
    cx.setSpec(spec);
    return cx;
  }

  /** Server-side dry run: admission and validation run in full, nothing is stored. */
  private static void dryRunCreate(ContextExtension cx) {
    admin.resource(cx).inNamespace(NAMESPACE).dryRun().fieldValidation(Validation.STRICT).create();
  }

  @Test
  void everyExampleIsAccepted() throws Exception {
    List<Path> examples;
    try (var files = Files.list(OperatorHarness.repoRoot().resolve("examples"))) {
      examples = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(examples).hasSizeGreaterThanOrEqualTo(5);
    int workstation = 0;
    for (Path example : examples) {
      ContextExtension cx = SpecIO.read(example);
      cx.getMetadata().setNamespace(NAMESPACE);
      String yaml = SpecIO.toYaml(cx.getSpec());
      if (RELATIVE_FILE.matcher(yaml).find()) {
        // a workstation spec (`pose run`): relative file: URIs mean nothing in a cluster, and the CRD says so
        workstation++;
        assertThatThrownBy(() -> dryRunCreate(cx)).as(example.toString()).isInstanceOf(KubernetesClientException.class)
            .hasMessageContaining("source: Invalid value: \"file:");
        LocalPaths.resolve(cx, example); // what `pose run -f` does first: absolute file:/// URIs
      }
      dryRunCreate(cx);
    }
    assertThat(workstation).isBetween(1, examples.size() - 3);
  }

  private static final java.util.regex.Pattern RELATIVE_FILE = java.util.regex.Pattern.compile("file:(?!/)");

  /**
   * The api module's random corpus (specs on both sides of every cross-field rule and bound): the API server
   * accepts exactly the specs the Java validator accepts, and its rejection names every field Java names.
   */
  @Test
  void theApiServerAndTheJavaValidatorAgreeOnTheRandomCorpus() {
    Random random = new Random(20261204);
    int rejected = 0;
    Set<String> fieldsSeen = new TreeSet<>();
    for (int i = 0; i < 400; i++) {
      ContextExtensionSpec spec = RandomSpecs.spec(random);
      List<Violation> java = SpecValidator.validate(spec);
      ContextExtension cx = resource("corpus-" + i, spec);
      List<String> serverFields;
      try {
        dryRunCreate(cx);
        serverFields = List.of();
      } catch (KubernetesClientException e) {
        assertThat(e.getCode()).as("%s", e.getMessage()).isEqualTo(422);
        serverFields = e.getStatus().getDetails().getCauses().stream().map(StatusCause::getField).toList();
        rejected++;
      }
      List<String> javaFields = java.stream().map(Violation::field).distinct().toList();
      assertThat(serverFields.isEmpty()).as("spec %s: Java says %s, the API server says %s", SpecIO.toYaml(spec), java,
          serverFields).isEqualTo(javaFields.isEmpty());
      for (String field : javaFields) {
        assertThat(serverFields).as("spec %s: the API server names %s", SpecIO.toYaml(spec), field)
            .anyMatch(f -> f.equals(field) || f.startsWith(field + "[") || f.startsWith(field + "."));
        fieldsSeen.add(field);
      }
    }
    assertThat(rejected).as("the corpus exercises rejections and acceptances").isGreaterThan(50).isLessThan(390);
    assertThat(fieldsSeen).as("rejections across many fields").hasSizeGreaterThanOrEqualTo(5);
  }

  @Test
  void aBadNameIsRejectedWithTheRule() {
    ContextExtension cx = resource("x".repeat(53), RandomSpecs.minimal());
    assertThatThrownBy(() -> dryRunCreate(cx)).isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("metadata.name must be a DNS label");
  }

  @Test
  void anUnknownFieldIsRejectedUnderStrictValidation() {
    String yaml = SpecIO.toYaml(resource("typo", RandomSpecs.minimal())).replace("targetContextLength:",
        "targetContextLenght: 65536\n  targetContextLength:");
    var generic = Serialization.unmarshal(yaml, GenericKubernetesResource.class);
    assertThat((Object) generic.get("spec", "targetContextLenght")).isEqualTo(65536);
    assertThatThrownBy(() -> admin.resource(generic).inNamespace(NAMESPACE).dryRun().fieldValidation(Validation.STRICT)
        .create()).isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("unknown field \"spec.targetContextLenght\"");
  }

  /** Transition rules: an update is refused exactly when the fingerprint of the immutable fields changes. */
  @Test
  void immutableFieldsAreRefusedOnUpdateAndTheRestMayChange() {
    Random random = new Random(13);
    int refused = 0;
    int allowed = 0;
    for (int i = 0; i < 60; i++) {
      ContextExtensionSpec old;
      do {
        old = RandomSpecs.spec(random);
      } while (!SpecValidator.validate(old).isEmpty());
      ContextExtension created = admin.resource(resource("update-" + i, old)).inNamespace(NAMESPACE).create();
      ContextExtensionSpec updated = RandomSpecs.mutate(SpecIO.copy(old), random);
      if (!SpecValidator.validate(updated).isEmpty()) {
        admin.resource(created).delete();
        continue;
      }
      List<String> changed = SpecIO.changedFields(SpecIO.fingerprint(old), SpecIO.fingerprint(updated));
      created.setSpec(updated);
      try {
        admin.resource(created).inNamespace(NAMESPACE).update();
        assertThat(changed).as("the API server allowed a change of %s", changed).isEmpty();
        allowed++;
      } catch (KubernetesClientException e) {
        assertThat(changed).as("refused: %s", e.getMessage()).isNotEmpty();
        assertThat(e.getMessage()).contains("is immutable once created");
        for (String field : changed) {
          assertThat(e.getMessage()).as("names %s", field).contains(field);
        }
        refused++;
      }
      admin.resource(created).delete();
    }
    assertThat(refused).isPositive();
    assertThat(allowed).isPositive();
  }

  /** Every list at its maximum size: the rules stay within the API server's per-call CEL cost budget. */
  @Test
  void theCelCostBudgetHoldsWithEveryListAtItsMaximum() {
    ContextExtensionSpec spec = RandomSpecs.minimal();
    spec.setEvaluation(new io.pose.api.v1alpha1.EvaluationSettings());
    spec.getEvaluation().setPasskey(new io.pose.api.v1alpha1.PasskeyEvaluation());
    spec.getEvaluation().getPasskey().setLengths(IntStream.rangeClosed(1, 32).map(n -> n * 1024).boxed().toList());
    spec.getEvaluation().setPerplexity(new io.pose.api.v1alpha1.PerplexityEvaluation());
    spec.getEvaluation().getPerplexity().setData(new io.pose.api.v1alpha1.DataSource());
    spec.getEvaluation().getPerplexity().getData().setSource("s3://corpus/held-out.jsonl");
    spec.getEvaluation().getPerplexity().setLengths(IntStream.rangeClosed(1, 32).map(n -> n * 1024).boxed().toList());
    ContextExtension cx = resource("largest", spec);
    List<String> violations = new ArrayList<>(SpecValidator.validate(spec).stream().map(Violation::toString).toList());
    assertThat(violations).isEmpty();
    dryRunCreate(cx);
    // and the same lists with one bad length: rejected by the rule, not by the budget
    spec.getEvaluation().getPasskey().setLengths(IntStream.rangeClosed(1, 32).map(n -> n * 2048).boxed().toList());
    assertThatThrownBy(() -> dryRunCreate(resource("largest-bad", spec))).isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("spec.evaluation.passkey.lengths").hasMessageNotContaining("cost");
    assertThat(SpecValidator.validate(spec).stream().map(Violation::field).collect(Collectors.toSet()))
        .contains("spec.evaluation.passkey.lengths");
  }
}
