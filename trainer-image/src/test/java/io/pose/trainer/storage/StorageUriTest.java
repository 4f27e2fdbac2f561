package io.pose.trainer.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.api.validation.Rules;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every URI shape the api module's rules accept parses, with the parts the sources and targets use; what does not
 * parse is named with its field and the accepted shapes; local paths never leave their claim or name it whole.
 */
class StorageUriTest {

  @Test
  void parsesEverySchemeIntoItsParts() {
    StorageUri model = StorageUri.parse("hf://mistralai/Mistral-7B-v0.1@refs/pr/3", "f");
    assertThat(model.scheme()).isEqualTo(StorageUri.Scheme.HF);
    assertThat(model.authority()).isEqualTo("mistralai/Mistral-7B-v0.1");
    assertThat(model.reference()).isEqualTo("refs/pr/3");
    assertThat(model.dataset()).isFalse();
    assertThat(StorageUri.parse("hf://org/name", "f").reference()).isNull();

    StorageUri data = StorageUri.parse("hf://datasets/emozilla/pg19@v2/data/test", "f");
    assertThat(data.dataset()).isTrue();
    assertThat(data.reference()).isEqualTo("v2");
    assertThat(data.path()).isEqualTo("data/test");

    StorageUri s3 = StorageUri.parse("s3://my.bucket/corpora/pile/", "f");
    assertThat(s3.authority()).isEqualTo("my.bucket");
    assertThat(s3.path()).isEqualTo("corpora/pile");
    assertThat(StorageUri.parse("s3://ab", "f").path()).isEmpty(); // the rules accept two-character buckets

    StorageUri oci = StorageUri.parse("oci://registry.example.com:5000/models/mistral:v1", "f");
    assertThat(oci.authority()).isEqualTo("registry.example.com:5000");
    assertThat(oci.path()).isEqualTo("models/mistral");
    assertThat(oci.reference()).isEqualTo("v1");
    assertThat(StorageUri.parse("oci://ghcr.io/org/model", "f").reference()).isEqualTo("latest");

    assertThat(StorageUri.parse("pvc://models/llama/v2", "f").path()).isEqualTo("llama/v2");
    assertThat(StorageUri.parse("file:///data/x.jsonl", "f").path()).isEqualTo("/data/x.jsonl");
  }

  @Test
  void whatTheApiRulesAcceptParses() {
    for (String uri : List.of("hf://org/name@main", "hf://org/name@release/v1", "s3://bucket/prefix", "pvc://claim/path",
        "file:///path")) {
      assertThat(uri).matches(Rules.MODEL_URI_PATTERN);
      assertThat(StorageUri.parse(uri, "spec.model.source").uri()).isEqualTo(uri);
    }
    for (String uri : List.of("hf://datasets/org/name", "hf://datasets/org/name@v1/sub/dir")) {
      assertThat(uri).matches(Rules.DATA_URI_PATTERN);
      assertThat(StorageUri.parse(uri, "spec.training.data.source").dataset()).isTrue();
    }
  }

  @Test
  void errorsNameTheFieldAndTheShapes() {
    assertThatThrownBy(() -> StorageUri.parse("ftp://host/x", "spec.publish.target"))
        .hasMessageContaining("spec.publish.target").hasMessageContaining("unknown scheme \"ftp\"")
        .hasMessageContaining("s3://bucket/prefix");
    assertThatThrownBy(() -> StorageUri.parse("hf://org/name/file.bin", "spec.model.source"))
        .hasMessageContaining("without a path");
    assertThatThrownBy(() -> StorageUri.parse("model", "spec.model.source")).hasMessageContaining("has no scheme");
    assertThatThrownBy(() -> StorageUri.parse(" ", "spec.model.source")).hasMessageContaining("a URI is required");
  }

  @Test
  void localPathsStayInsideTheirClaim(@TempDir Path tmp) throws IOException {
    Path ws = Files.createDirectories(tmp.resolve("ws"));
    Path mnt = Files.createDirectories(tmp.resolve("mnt/models"));
    assertThat(LocalPaths.pvc(StorageUri.parse("pvc://ws-claim/out/v1", "f"), ws, "pvc://ws-claim", tmp.resolve("mnt")))
        .isEqualTo(ws.resolve("out/v1").toAbsolutePath());
    assertThat(LocalPaths.pvc(StorageUri.parse("pvc://models/llama", "f"), ws, "pvc://ws-claim", tmp.resolve("mnt")))
        .isEqualTo(mnt.resolve("llama").toAbsolutePath());
    for (String whole : List.of("pvc://ws-claim/.", "pvc://ws-claim/x/..", "pvc://ws-claim")) {
      assertThatThrownBy(() -> LocalPaths.pvc(StorageUri.parse(whole, "f"), ws, "pvc://ws-claim", tmp.resolve("mnt")))
          .as(whole).hasMessageContaining("not the claim itself");
    }
    assertThatThrownBy(() -> LocalPaths.pvc(StorageUri.parse("pvc://ws-claim/../x", "f"), ws, "pvc://ws-claim",
        tmp.resolve("mnt"))).hasMessageContaining("leaves the claim");
    // relative workspaces resolve like absolute ones
    assertThat(LocalPaths.pvc(StorageUri.parse("pvc://ws-claim/out", "f"), tmp.resolve("ws/./"), "pvc://ws-claim",
        tmp.resolve("mnt"))).isEqualTo(ws.resolve("out").toAbsolutePath().normalize());
  }

  @Test
  void binaryKeysOfASecretAreNotCredentialsAndDoNotFailTheLoad(@TempDir Path tmp) throws IOException {
    Path secret = Files.createDirectories(tmp.resolve("s3-creds"));
    Files.writeString(secret.resolve("accessKeyId"), "AKIA\n");
    Files.write(secret.resolve("ca.der"), new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1});
    Credentials c = Credentials.load(tmp, "s3-creds", "spec.publish.credentialsSecret");
    assertThat(c.get("accessKeyId")).contains("AKIA");
    assertThat(c.get("ca.der")).isEmpty();
    assertThat(c.toString()).doesNotContain("AKIA");
  }
}
