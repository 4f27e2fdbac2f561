package io.pose.api.validation;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.ValidationRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CRD's CEL rules (what a real API server enforces) and the Java rules (what the operator and
 * {@code pose run} enforce) must be the same rules: every CEL rule of the committed CRD has a Java twin,
 * and both give the same verdict on thousands of random specs.
 */
class CelAgreementTest {

  record LocatedRule(String scope, String rule, String message) {}

  private static List<LocatedRule> crdRules;
  private static final CelEvaluator CEL = new CelEvaluator();
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void readCommittedCrd() throws Exception {
    Path crd = Path.of("..", "crds", "contextextensions.pose.io-v1.yml");
    CustomResourceDefinition definition = Serialization.unmarshal(Files.readString(crd), CustomResourceDefinition.class);
    crdRules = new ArrayList<>();
    collect("", definition.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema(), crdRules);
  }

  private static void collect(String path, JSONSchemaProps schema, List<LocatedRule> out) {
    if (schema.getXKubernetesValidations() != null) {
      for (ValidationRule r : schema.getXKubernetesValidations()) {
        out.add(new LocatedRule(path, r.getRule(), r.getMessage()));
      }
    }
    if (schema.getProperties() != null) {
      schema.getProperties().forEach((name, child) -> collect(path.isEmpty() ? name : path + "." + name, child, out));
    }
    if (schema.getItems() != null && schema.getItems().getSchema() != null) {
      collect(path + "[]", schema.getItems().getSchema(), out);
    }
  }

  private static boolean isTransition(LocatedRule r) {
    return r.rule().contains("oldSelf");
  }

  @Test
  void everyCrdRuleHasAJavaTwinAndViceVersa() {
    List<LocatedRule> stateless = crdRules.stream().filter(r -> !isTransition(r) && !r.scope().isEmpty()).toList();
    for (LocatedRule r : stateless) {
      assertThat(Rules.byCel(r.rule())).as("Java twin of CRD rule at %s: %s", r.scope(), r.rule()).isPresent();
      assertThat(Rules.byCel(r.rule()).get().scope()).isEqualTo(r.scope());
    }
    for (Rules.Rule java : Rules.SPEC_RULES) {
      assertThat(stateless).as("CRD carries %s", java.cel())
          .anyMatch(r -> r.rule().equals(java.cel()) && r.scope().equals(java.scope()));
    }
    assertThat(crdRules).as("root name rule").anyMatch(r -> r.scope().isEmpty() && r.rule().equals(Rules.NAME_CEL));
  }

  @Test
  void celAndJavaAgreeOnRandomSpecs() {
    Random random = new Random(20240901);
    int violationsSeen = 0;
    for (int i = 0; i < 4000; i++) {
      ContextExtensionSpec spec = RandomSpecs.spec(random);
      @SuppressWarnings("unchecked")
      Map<String, Object> json = JSON.convertValue(spec, Map.class);
      for (Rules.Rule rule : Rules.SPEC_RULES) {
        Object scoped = at(json, rule.scope());
        boolean cel = scoped == null || CEL.holds(rule.cel(), scoped, null);
        boolean java = rule.holds().test(spec);
        assertThat(java).as("rule %s on %s", rule.cel(), json).isEqualTo(cel);
        if (!java) {
          violationsSeen++;
        }
      }
    }
    assertThat(violationsSeen).as("the random specs exercise violations too").isGreaterThan(1000);
  }

  @Test
  void transitionRulesRejectExactlyWhatTheFingerprintFlags() {
    Random random = new Random(7);
    int changes = 0;
    for (int i = 0; i < 1500; i++) {
      ContextExtensionSpec old = RandomSpecs.spec(random);
      ContextExtensionSpec updated = random.nextBoolean() ? SpecIO.copy(old) : RandomSpecs.mutate(SpecIO.copy(old), random);
      @SuppressWarnings("unchecked")
      Map<String, Object> oldJson = JSON.convertValue(old, Map.class);
      @SuppressWarnings("unchecked")
      Map<String, Object> newJson = JSON.convertValue(updated, Map.class);
      boolean celAllows = true;
      for (LocatedRule r : crdRules.stream().filter(CelAgreementTest::isTransition).toList()) {
        Object self = at(newJson, r.scope());
        Object oldSelf = at(oldJson, r.scope());
        // the API server runs a transition rule only where the field exists in both objects
        if (self != null && oldSelf != null && !CEL.holds(r.rule(), self, oldSelf)) {
          celAllows = false;
        }
      }
      List<String> changed = SpecIO.changedFields(SpecIO.fingerprint(old), SpecIO.fingerprint(updated));
      assertThat(changed.isEmpty()).as("old %s new %s", oldJson, newJson).isEqualTo(celAllows);
      if (!celAllows) {
        changes++;
      }
    }
    assertThat(changes).isGreaterThan(200);
  }

  @Test
  void nameRuleAgrees() {
    for (String name : List.of("mistral-7b-32k", "a", "7b-model", "Upper", "x".repeat(52), "x".repeat(53), "ends-", "a.b")) {
      boolean cel = CEL.holds(Rules.NAME_CEL, Map.of("metadata", Map.of("name", name)), null);
      var resource = new io.pose.api.v1alpha1.ContextExtension();
      resource.getMetadata().setName(name);
      resource.setSpec(RandomSpecs.minimal());
      boolean java = SpecValidator.validate(resource).stream().noneMatch(v -> v.field().equals("metadata.name"));
      assertThat(java).as(name).isEqualTo(cel);
    }
  }

  private static Object at(Map<String, Object> spec, String scope) {
    Object current = spec;
    String[] parts = scope.split("\\.");
    for (int i = 1; i < parts.length; i++) { // parts[0] is "spec"
      if (!(current instanceof Map<?, ?> m)) {
        return null;
      }
      current = m.get(parts[i]);
    }
    return current;
  }
}
