package io.pose.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The committed CRD (crds/ and the Helm chart's crds/) must be exactly what the api classes generate.
 * Regenerate with {@code ./mvnw -pl api test -Dtest=CrdGenerationTest -Dpose.updateCrds=true}.
 */
class CrdGenerationTest {

  @Test
  void committedCrdsMatchTheClasses() throws Exception {
    String generated = CrdFiles.generate();
    Path root = CrdFiles.repoRoot();
    Path[] copies = {root.resolve("crds").resolve(CrdFiles.FILE_NAME),
        root.resolve("helm/pose-operator/crds").resolve(CrdFiles.FILE_NAME)};
    if (Boolean.getBoolean("pose.updateCrds")) {
      for (Path copy : copies) {
        Files.createDirectories(copy.getParent());
        Files.writeString(copy, generated);
      }
    }
    for (Path copy : copies) {
      assertThat(copy).as("%s exists (regenerate with -Dpose.updateCrds=true)", copy).exists();
      assertThat(Files.readString(copy))
          .as("%s is stale: regenerate with ./mvnw -pl api test -Dtest=CrdGenerationTest -Dpose.updateCrds=true", copy)
          .isEqualTo(generated);
    }
  }
}
