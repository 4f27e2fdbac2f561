package io.pose.api;

import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.crdv2.generator.CRDPostProcessor;
import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.pose.api.v1alpha1.ContextExtension;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Generates the CRD from the api classes, and locates the committed copies. */
final class CrdFiles {
  private CrdFiles() {}

  static final String FILE_NAME = ContextExtension.CRD_NAME + "-v1.yml";

  /** The repository root (the parent of the api module). */
  static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("mvnw"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("repository root (with mvnw) not found above " + Path.of("").toAbsolutePath());
    }
    return p;
  }

  /**
   * What the annotations cannot say: printer columns in the order they are declared (the generator sorts
   * them by JSON path), and conditions as a list map keyed by type (the Kubernetes convention, which lets
   * server-side apply merge conditions).
   */
  private static HasMetadata conventions(HasMetadata resource) {
    CustomResourceDefinition crd = (CustomResourceDefinition) resource;
    List<String> declared = Arrays.stream(ContextExtension.class.getAnnotationsByType(AdditionalPrinterColumn.class))
        .map(AdditionalPrinterColumn::name).toList();
    for (CustomResourceDefinitionVersion v : crd.getSpec().getVersions()) {
      v.getAdditionalPrinterColumns().sort(Comparator.comparingInt(c -> declared.indexOf(c.getName())));
      JSONSchemaProps conditions = v.getSchema().getOpenAPIV3Schema().getProperties().get("status").getProperties()
          .get("conditions");
      conditions.setXKubernetesListType("map");
      conditions.setXKubernetesListMapKeys(List.of("type"));
      JSONSchemaProps item = conditions.getItems().getSchema();
      item.setRequired(List.of("lastTransitionTime", "message", "reason", "status", "type"));
      item.getProperties().get("status").setEnum(List.of(new TextNode("True"), new TextNode("False"), new TextNode("Unknown")));
    }
    return crd;
  }

  /** The CRD the classes generate today. */
  static String generate() {
    try {
      Path dir = Files.createTempDirectory("crd");
      new CRDGenerator().customResourceClasses(ContextExtension.class).forCRDVersions("v1").inOutputDir(dir.toFile())
          .withPostProcessor(new CRDPostProcessor() {
            @Override
            public HasMetadata process(HasMetadata crd, String crdSpecVersion) {
              return conventions(crd);
            }
          }).generate();
      return Files.readString(dir.resolve(FILE_NAME));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
