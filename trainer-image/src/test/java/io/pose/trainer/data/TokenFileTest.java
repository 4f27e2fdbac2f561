package io.pose.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pose.core.sampling.Samplers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {

  static final List<int[]> DOCS = List.of(new int[] {1, 2, 3}, new int[] {}, new int[] {65535, 0, 7, 7, 9});

  @Test
  void roundTripsWithTwoAndFourBytesPerToken(@TempDir Path tmp) throws IOException {
    for (int vocabulary : new int[] {65536, 152064}) {
      Path file = tmp.resolve("docs-" + vocabulary + ".tokens");
      TokenFile.write(file, DOCS, vocabulary);
      try (TokenFile f = TokenFile.open(file)) {
        assertThat(f.size()).isEqualTo(3);
        assertThat(f.length(1)).isZero();
        for (int i = 0; i < DOCS.size(); i++) {
          assertThat(f.tokens(i)).containsExactly(DOCS.get(i));
        }
      }
    }
    assertThat(Files.size(tmp.resolve("docs-65536.tokens"))).isEqualTo(24 + 4 * 8 + 8 * 2);
  }

  @Test
  void brokenFilesAreRefusedWithTheReason(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("d.tokens");
    TokenFile.write(file, DOCS, 65536);
    byte[] good = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(good, good.length - 2));
    assertThatThrownBy(() -> TokenFile.open(file)).hasMessageEndingWith("the file has 70 (truncated)");
    byte[] wrongMagic = good.clone();
    wrongMagic[0] = 'X';
    Files.write(file, wrongMagic);
    assertThatThrownBy(() -> TokenFile.open(file)).hasMessageEndingWith("not a pose token file (magic \"POSETOKS\" expected)");
    byte[] version = good.clone();
    ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 9);
    Files.write(file, version);
    assertThatThrownBy(() -> TokenFile.open(file)).hasMessageEndingWith("token file version 9 is not supported (this reader: 1)");
    byte[] decreasing = good.clone();
    ByteBuffer.wrap(decreasing).order(ByteOrder.LITTLE_ENDIAN).putLong(24 + 16, 1);
    Files.write(file, decreasing);
    assertThatThrownBy(() -> TokenFile.open(file)).hasMessageContaining("must start at 0 and never decrease");
    assertThatThrownBy(() -> TokenFile.open(tmp.resolve("none.tokens"))).hasMessageEndingWith("none.tokens: no such file");
    assertThatThrownBy(() -> TokenFile.write(file, List.of(new int[] {70000}), 65536))
        .hasMessage("token 70000 is outside the vocabulary of 65536");
  }

  @Test
  void sampleStreamIsDeterministicAndVisitsEveryEligibleDocumentOncePerEpoch(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("d.tokens");
    List<int[]> docs = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      docs.add(new int[i % 2 == 0 ? 40 : 5]);
    }
    TokenFile.write(file, docs, 100);
    try (TokenFile f = TokenFile.open(file)) {
      SampleStream a = new SampleStream(f, Samplers.official(16, 64), 7, 16);
      SampleStream b = new SampleStream(f, Samplers.official(16, 64), 7, 16);
      assertThat(a.eligibleDocuments()).isEqualTo(10);
      for (int epoch = 0; epoch < 3; epoch++) {
        Set<Integer> seen = new HashSet<>();
        for (int s = 0; s < 10; s++) {
          int doc = a.documentOf(epoch * 10L + s);
          assertThat(doc % 2).as("only documents of at least minTokens").isZero();
          seen.add(doc);
        }
        assertThat(seen).hasSize(10);
      }
      assertThat(b.documentOf(25)).as("a function of (seed, index), whatever was read before").isEqualTo(a.documentOf(25));
      assertThat(b.sample(13)).isEqualTo(a.sample(13));
      assertThatThrownBy(() -> new SampleStream(f, Samplers.official(16, 64), 7, 1000))
          .hasMessage(file + ": none of the 20 documents has at least 1000 tokens (spec.training.data.minTokens)");
    }
  }
}
