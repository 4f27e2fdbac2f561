package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Directories written whole, by one writer or several, and what a crash leaves. */
class AtomicDirectoryTest {

  @Test
  void aCrashBetweenTheRenamesOfAReplacementLosesNothing(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("step-00000002");
    AtomicDirectory.write(target, dir -> Files.writeString(dir.resolve("state"), "complete"));
    // what a crash after the first rename of a replacement leaves: the old content renamed away, the new staged
    Files.move(target, tmp.resolve(".step-00000002.old-crashed"));
    Files.createDirectories(tmp.resolve(".step-00000002.staging-shared"));
    AtomicDirectory.prepareShared(target);
    assertThat(target.resolve("state")).hasContent("complete");
    assertThat(tmp.resolve(".step-00000002.old-crashed")).doesNotExist();
    assertThat(AtomicDirectory.sharedStaging(target)).isEmptyDirectory();
  }

  @Test
  void aDeletionCutOffIsNeverPutBack(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("step-00000001");
    AtomicDirectory.write(target, dir -> Files.writeString(dir.resolve("state"), "old"));
    AtomicDirectory.delete(target);
    Files.createDirectories(tmp.resolve(".step-00000001.deleting-crashed")); // as a crash mid-delete leaves it
    AtomicDirectory.write(target, dir -> Files.writeString(dir.resolve("state"), "new"));
    assertThat(target.resolve("state")).hasContent("new");
    assertThat(tmp.resolve(".step-00000001.deleting-crashed")).doesNotExist();
  }

  @Test
  void severalWritersFillOneStagingDirectoryCommittedOnce(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("extended-model");
    AtomicDirectory.prepareShared(target);
    Files.writeString(AtomicDirectory.sharedStaging(target).resolve("a"), "rank 0");
    Files.writeString(AtomicDirectory.sharedStaging(target).resolve("b"), "rank 1");
    assertThat(target).doesNotExist();
    AtomicDirectory.commitShared(target);
    assertThat(target.resolve("a")).hasContent("rank 0");
    assertThat(target.resolve("b")).hasContent("rank 1");
    assertThat(AtomicDirectory.sharedStaging(target)).doesNotExist();
  }

  @Test
  void writtenFilesAreReadableAsAnyFileCreatedThere(@TempDir Path tmp) throws IOException {
    Path plain = Files.createFile(tmp.resolve("plain"));
    Path written = tmp.resolve("model.safetensors");
    SafetensorsWriter.write(written, List.of(TensorData.f32("w", new long[] {2}, new float[] {1, 2})), Map.of());
    Set<PosixFilePermission> expected = Files.getPosixFilePermissions(plain);
    assertThat(Files.getPosixFilePermissions(written)).isEqualTo(expected);
  }
}
