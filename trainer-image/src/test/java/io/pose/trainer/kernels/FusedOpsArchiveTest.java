package io.pose.trainer.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.PoseModuleAccess;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;

/**
 * The TorchScript archive the fused ops are loaded from, built afresh: FusedOps builds it once per device and keeps
 * the module, so a test of the ops alone would not notice an archive that no longer loads once it was loaded. The
 * layout is torch.jit.save's: stored (uncompressed) entries under archive/, the module pickled with protocol 2. (torch
 * 2.7's own pickle of such a module adds memo entries and a _is_full_backward_hook attribute; libtorch loads either.)
 */
class FusedOpsArchiveTest {

  @Test
  void theArchiveHasTorchJitSavesLayoutWithCorrectChecksums() throws IOException {
    List<String> names = new ArrayList<>();
    try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(FusedOps.archive()))) {
      for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
        byte[] data = zip.readAllBytes();
        names.add(e.getName());
        assertThat(e.getMethod()).as(e.getName()).isEqualTo(ZipEntry.STORED);
        CRC32 crc = new CRC32();
        crc.update(data);
        assertThat(e.getCrc()).as(e.getName()).isEqualTo(crc.getValue());
        assertThat(e.getSize()).isEqualTo(data.length);
        switch (e.getName()) {
          case "archive/version" -> assertThat(new String(data, StandardCharsets.US_ASCII)).isEqualTo("3\n");
          case "archive/byteorder" -> assertThat(new String(data, StandardCharsets.US_ASCII)).isEqualTo("little");
          case "archive/constants.pkl" -> assertThat(data).containsExactly(0x80, 2, ')', '.');
          case "archive/code/__torch__.py" -> assertThat(new String(data, StandardCharsets.UTF_8))
              .isEqualTo(FusedOps.SOURCE);
          case "archive/data.pkl" -> assertThat(data).isEqualTo(FusedOps.modulePickle());
          default -> throw new AssertionError("unexpected entry " + e.getName());
        }
      }
    }
    assertThat(names).containsExactly("archive/data.pkl", "archive/code/__torch__.py", "archive/constants.pkl",
        "archive/version", "archive/byteorder");
  }

  @Test
  void aFreshlyBuiltArchiveLoadsAndRuns() throws IOException {
    ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch and DJL's JNI
    long module = PoseModuleAccess.load(FusedOps.archive(), Device.cpu());
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      PtNDArray x = (PtNDArray) m.create(new float[] {3, 4});
      PtNDArray w = (PtNDArray) m.create(new float[] {1, 2});
      PtNDArray y = PoseModuleAccess.run(module, "rms_norm", (PtNDManager) m, x, w, 0.0);
      // rms of (3, 4) = sqrt(12.5)
      double rms = Math.sqrt(12.5);
      assertThat(y.toFloatArray()).containsExactly((float) (3 / rms), (float) (2 * 4 / rms));
    } finally {
      PoseModuleAccess.delete(module);
    }
  }
}
