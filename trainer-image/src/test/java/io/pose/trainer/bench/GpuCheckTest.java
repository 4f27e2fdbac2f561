package io.pose.trainer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The CPU part of the GPU check (tools/gpu/check.sh): every check but NCCL, on the CPU. */
class GpuCheckTest {

  @Test
  void everyCheckPassesOnTheCpu() {
    List<GpuCheck.Row> rows = GpuCheck.run(new GpuCheck.Options(false, Path.of("src/test/resources/tiny-models"), 0, true,
        "all"));
    String table = GpuCheck.table(rows);
    assertThat(rows).as(table).allMatch(GpuCheck.Row::ok);
    assertThat(rows).extracting(GpuCheck.Row::check).containsExactly("engine", "parity llama", "parity llama-gqa-tied",
        "parity llama-yarn", "parity mistral-swa", "bf16 training", "ZeRO-3, 2 thread ranks", "NCCL", "cost: PoSE vs full-length");
    assertThat(table).contains("tokens/s").contains("within").contains("not run: needs a GPU").contains("PoSE at 4x over the window");
  }
}
