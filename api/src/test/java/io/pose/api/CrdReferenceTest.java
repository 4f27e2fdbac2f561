package io.pose.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.ValidationRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * docs/crd-reference.md is rendered from the committed CRD (crds/), so the reference cannot drift from what the
 * API server enforces. Regenerate with
 * {@code ./mvnw -B -pl api test -Dtest=CrdReferenceTest -Dpose.updateDocs=true}.
 */
class CrdReferenceTest {

  private static final Path ROOT = CrdFiles.repoRoot();

  static CustomResourceDefinition committedCrd() throws IOException {
    String text = Files.readString(ROOT.resolve("crds").resolve(CrdFiles.FILE_NAME));
    return Serialization.unmarshal(text, CustomResourceDefinition.class);
  }

  @Test
  void committedReferenceMatchesTheCrd() throws IOException {
    String rendered = CrdReference.render(committedCrd());
    Path doc = ROOT.resolve(CrdReference.DOC_PATH);
    if (Boolean.getBoolean("pose.updateDocs")) {
      Files.createDirectories(doc.getParent());
      Files.writeString(doc, rendered);
    }
    assertThat(doc).as("%s exists (generate it with %s)", doc, CrdReference.REGENERATE).exists();
    // line endings normalized: a checkout with core.autocrlf must not fail the build
    assertThat(Files.readString(doc).replace("\r\n", "\n"))
        .as("%s is stale: it must be exactly what the committed CRD renders to; regenerate it with %s",
            doc, CrdReference.REGENERATE)
        .isEqualTo(rendered);
  }

  @Test
  void everyRuleAndEveryFieldIsInTheReference() throws IOException {
    CustomResourceDefinition crd = committedCrd();
    String rendered = CrdReference.render(crd);
    JSONSchemaProps root = crd.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema();
    List<String> paths = new ArrayList<>();
    List<ValidationRule> rules = new ArrayList<>();
    collect("", root, paths, rules);
    assertThat(rules).isNotEmpty();
    for (ValidationRule rule : rules) {
      assertThat(rendered).as("rule %s", rule.getRule()).contains("  - rule: `" + rule.getRule() + "`");
    }
    for (String path : paths) {
      String parent = path.contains(".") ? path.substring(0, path.lastIndexOf('.')) : "";
      String field = path.substring(path.lastIndexOf('.') + 1);
      String heading = parent.isEmpty() ? "#### `ContextExtension` (the resource)" : "#### `" + parent + "`";
      int section = rendered.indexOf(heading + "\n");
      assertThat(section).as("section of %s", parent.isEmpty() ? "the resource" : parent).isNotNegative();
      int next = rendered.indexOf("\n#### ", section + heading.length());
      String table = rendered.substring(section, next < 0 ? rendered.length() : next);
      assertThat(table).as("row of %s", path).contains("| `" + field + "` |");
    }
  }

  @Test
  void embeddedKubernetesTypesAreLinkedNotExpanded() throws IOException {
    String rendered = CrdReference.render(committedCrd());
    assertThat(rendered).contains("Kubernetes [Affinity](https://kubernetes.io/docs/reference/kubernetes-api/")
        .contains("\\[\\][Toleration](https://kubernetes.io/docs/reference/kubernetes-api/")
        .doesNotContain("nodeAffinity")
        .doesNotContain("tolerationSeconds");
  }

  @Test
  void renderingDoesNotDependOnThePropertyOrderOfTheParser() throws IOException {
    CustomResourceDefinition reversed = committedCrd();
    reverseProperties(reversed.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema());
    assertThat(CrdReference.render(reversed)).isEqualTo(CrdReference.render(committedCrd()));
  }

  /** Dotted paths of every field the reference documents (not inside the linked Kubernetes types). */
  private static void collect(String path, JSONSchemaProps s, List<String> paths, List<ValidationRule> rules) {
    if (s == null || CrdReference.KUBERNETES_TYPES.containsKey(path)) {
      return;
    }
    if (s.getXKubernetesValidations() != null) {
      rules.addAll(s.getXKubernetesValidations());
    }
    if (s.getProperties() != null) {
      s.getProperties().forEach((name, child) -> {
        String p = path.isEmpty() ? name : path + "." + name;
        paths.add(p);
        collect(p, child, paths, rules);
      });
    }
    if (s.getItems() != null) {
      collect(path + "[]", s.getItems().getSchema(), paths, rules);
    }
  }

  private static void reverseProperties(JSONSchemaProps s) {
    if (s == null) {
      return;
    }
    if (s.getProperties() != null) {
      List<String> names = new ArrayList<>(s.getProperties().keySet());
      Collections.reverse(names);
      Map<String, JSONSchemaProps> reversed = new LinkedHashMap<>();
      names.forEach(n -> reversed.put(n, s.getProperties().get(n)));
      s.setProperties(reversed);
      reversed.values().forEach(CrdReferenceTest::reverseProperties);
    }
    if (s.getItems() != null) {
      reverseProperties(s.getItems().getSchema());
    }
  }
}
