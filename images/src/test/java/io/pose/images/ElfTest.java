package io.pose.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ELF reader against the libraries of the JDK running the test, read as files and as zip members. */
class ElfTest {
  static final Path LIBJAVA = Path.of(System.getProperty("java.home"), "lib", "libjava.so");

  @TempDir
  Path tmp;

  static Elf read(Path file) throws IOException {
    try (Elf.Input in = Elf.of(file.toString(), () -> Files.newInputStream(file))) {
      return Elf.read(file.toString(), in);
    }
  }

  @Test
  void readsTheSonameTheNeededLibrariesAndTheSearchPath() throws IOException {
    Elf elf = read(LIBJAVA);
    assertThat(elf.soname()).isEqualTo("libjava.so");
    assertThat(elf.needed()).contains("libjvm.so", "libc.so.6");
    assertThat(elf.runpath().isEmpty() ? elf.rpath() : elf.runpath()).contains("$ORIGIN");
  }

  @Test
  void aZipMemberReadsTheSameAsTheFileAndIsNeverUnpacked() throws IOException {
    Path zip = tmp.resolve("lib.zip");
    try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(zip))) {
      out.putNextEntry(new ZipEntry("lib/libjava.so"));
      Files.copy(LIBJAVA, out);
    }
    ImagePlan.ZipMember member = new ImagePlan.ZipMember(zip, "lib/libjava.so", Files.size(LIBJAVA));
    try (Elf.Input in = Elf.of(member.describe(), member::open)) {
      assertThat(Elf.read(member.describe(), in)).isEqualTo(read(LIBJAVA));
    }
  }

  @Test
  void aTruncatedOrForeignFileIsRefusedByName() throws IOException {
    byte[] bytes = Files.readAllBytes(LIBJAVA);
    byte[] cut = Arrays.copyOf(bytes, 200);
    assertThatThrownBy(() -> Elf.read("cut.so", Elf.of("cut.so", () -> new ByteArrayInputStream(cut))))
        .isInstanceOf(IOException.class).hasMessageContaining("cut.so").hasMessageContaining("truncated");
    byte[] script = "/* GNU ld script */ GROUP ( libc.so.6 )".getBytes();
    assertThat(Elf.isElf(script)).isFalse();
    assertThatThrownBy(() -> Elf.read("libc.so", Elf.of("libc.so", () -> new ByteArrayInputStream(script))))
        .hasMessage("libc.so: not an ELF file");
  }
}
