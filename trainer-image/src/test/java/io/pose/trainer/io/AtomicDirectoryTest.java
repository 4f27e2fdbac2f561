package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
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

  /** Each fsync seen through the seam: the path forced, and whether the target was in place yet. */
  static List<String> forcedWhile(Path root, Path target, IoAction action) throws IOException {
    List<String> forced = new ArrayList<>();
    AtomicDirectory.Fsync saved = AtomicDirectory.fsync;
    AtomicDirectory.fsync = (channel, path) -> {
      String name = root.relativize(path).toString().replaceAll("staging-[0-9a-f-]{36}", "staging-*");
      name = name.isEmpty() ? "." : name;
      forced.add(name + (Files.exists(target) ? " (target in place)" : ""));
      saved.force(channel, path);
    };
    try {
      action.run();
    } finally {
      AtomicDirectory.fsync = saved;
    }
    return forced;
  }

  interface IoAction {
    void run() throws IOException;
  }

  @Test
  void everyFileAndDirectoryIsForcedBeforeTheRenameAndTheParentAfterIt(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("models").resolve("step-00000003");
    List<String> forced = forcedWhile(tmp, target, () -> AtomicDirectory.write(target, dir -> {
      Files.writeString(dir.resolve("config.json"), "{}");
      Files.createDirectories(dir.resolve("optimizer"));
      Files.writeString(dir.resolve("optimizer").resolve("rank0"), "state");
    }));
    assertThat(forced).containsExactlyInAnyOrder("models/.step-00000003.staging-*/config.json",
        "models/.step-00000003.staging-*/optimizer/rank0", "models/.step-00000003.staging-*/optimizer",
        "models/.step-00000003.staging-*", "models (target in place)");
    assertThat(forced.indexOf("models/.step-00000003.staging-*/optimizer/rank0"))
        .isLessThan(forced.indexOf("models/.step-00000003.staging-*/optimizer"));
    assertThat(forced.subList(3, 5)).as("the staging directory last, then the parent that holds the rename")
        .containsExactly("models/.step-00000003.staging-*", "models (target in place)");

    List<String> replaced = forcedWhile(tmp, target, () -> AtomicDirectory.write(target,
        dir -> Files.writeString(dir.resolve("config.json"), "{\"v\": 2}")));
    assertThat(replaced).containsExactly("models/.step-00000003.staging-*/config.json (target in place)",
        "models/.step-00000003.staging-* (target in place)", "models (target in place)");
    assertThat(target.resolve("config.json")).hasContent("{\"v\": 2}");

    Path shared = tmp.resolve("extended");
    AtomicDirectory.prepareShared(shared);
    Files.writeString(AtomicDirectory.sharedStaging(shared).resolve("model.safetensors"), "weights");
    assertThat(forcedWhile(tmp, shared, () -> AtomicDirectory.commitShared(shared)))
        .containsExactly(".extended.staging-shared/model.safetensors", ".extended.staging-shared",
            ". (target in place)");
  }

  @Test
  void aSafetensorsFileIsForcedWholeUnderItsTemporaryName(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("model.safetensors");
    List<Long> sizes = new ArrayList<>();
    AtomicDirectory.Fsync saved = AtomicDirectory.fsync;
    List<String> forced = new ArrayList<>();
    AtomicDirectory.fsync = (channel, path) -> {
      forced.add(tmp.relativize(path).toString().replaceAll("[0-9a-f-]{36}", "*")
          + (Files.exists(file) ? " (in place)" : ""));
      sizes.add(channel.size());
      saved.force(channel, path);
    };
    try {
      SafetensorsWriter.write(file, List.of(TensorData.f32("w", new long[] {2}, new float[] {1, 2})), Map.of());
    } finally {
      AtomicDirectory.fsync = saved;
    }
    assertThat(forced).containsExactly(".model.safetensors.*.partial");
    assertThat(sizes).as("every byte written before the fsync").containsExactly(Files.size(file));
  }

  @Test
  void preparingReturnsTheEmptySharedStagingDirectory(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("extended-model");
    Files.createDirectories(AtomicDirectory.sharedStaging(target));
    Files.writeString(AtomicDirectory.sharedStaging(target).resolve("stale"), "from a crashed export");
    Path staging = AtomicDirectory.prepareShared(target);
    assertThat(staging).isEqualTo(AtomicDirectory.sharedStaging(target)).isEmptyDirectory();
  }

  @Test
  void deletingRemovesTheDirectoryAndLeavesNothingBehind(@TempDir Path tmp) throws IOException {
    Path target = tmp.resolve("step-00000001");
    Files.writeString(tmp.resolve("notes.txt"), "a sibling");
    AtomicDirectory.write(target, dir -> Files.writeString(dir.resolve("state"), "old"));
    AtomicDirectory.delete(target);
    assertThat(target).doesNotExist();
    assertThat(tmp.toFile().list()).as("no .deleting- left").containsExactly("notes.txt");
    AtomicDirectory.delete(target);
    assertThat(tmp.toFile().list()).as("deleting what is not there does nothing").containsExactly("notes.txt");
  }

  @Test
  void onlyTheTargetsOwnRenamedAwayContentIsPutBack(@TempDir Path tmp) throws IOException {
    Path other = tmp.resolve("other-model");
    AtomicDirectory.write(other, dir -> Files.writeString(dir.resolve("state"), "other"));
    Files.createDirectories(tmp.resolve(".other-model.old-crashed"));
    Path target = tmp.resolve("model");
    AtomicDirectory.write(target, dir -> Files.writeString(dir.resolve("state"), "new"));
    assertThat(target.resolve("state")).hasContent("new");
    assertThat(other.resolve("state")).as("a sibling is never taken for the target").hasContent("other");
    assertThat(tmp.resolve(".other-model.old-crashed")).as("another target's leftovers are its own").exists();
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
