package io.pose.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against files the safetensors library wrote (tools/reference/safetensors_files.py): every dtype read exactly,
 * the Java writer's output byte-identical to the library's, and every corruption the format forbids refused.
 */
class SafetensorsTest {

  static final Path DIR = Path.of("src/test/resources/safetensors");
  static JsonNode expected;

  @BeforeAll
  static void readExpected() throws IOException {
    expected = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()
        .readTree(DIR.resolve("expected.json").toFile());
  }

  @Test
  void readsEveryDtypeExactly() throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("mixed.safetensors"))) {
      assertThat(f.metadata()).containsEntry("format", "pt").containsEntry("note", "pose reference");
      List<String> names = new ArrayList<>();
      expected.fieldNames().forEachRemaining(n -> {
        if (!n.startsWith("__")) {
          names.add(n);
        }
      });
      assertThat(f.tensors().keySet()).containsExactlyInAnyOrderElementsOf(names);
      for (String name : names) {
        JsonNode e = expected.get(name);
        TensorInfo info = f.info(name);
        assertThat(info.shape()).as(name).containsExactly(longs(e.get("shape")));
        JsonNode values = e.get("values");
        if (info.dtype().floating()) {
          float[] got = f.floats(name);
          assertThat(got).hasSize(values.size());
          for (int i = 0; i < got.length; i++) {
            assertThat(Float.floatToIntBits(got[i])).as("%s[%d]", name, i)
                .isEqualTo(Float.floatToIntBits((float) values.get(i).asDouble()));
          }
        } else {
          assertThat(f.longs(name)).as(name).containsExactly(longs(values));
        }
      }
      assertThat(f.info("model.layers.0.mlp.up_proj.weight").dtype()).isEqualTo(DType.BF16);
      assertThat(f.info("model.layers.0.self_attn.q_proj.weight").dtype()).isEqualTo(DType.F16);
      assertThat(f.info("scalar").shape()).isEmpty();
      assertThat(f.floats("empty")).isEmpty();
    }
  }

  @Test
  void javaWritesTheLibrarysBytesExactly(@TempDir Path tmp) throws IOException {
    Path reference = DIR.resolve("mixed.safetensors");
    List<TensorData> tensors = new ArrayList<>();
    Map<String, String> metadata;
    try (SafetensorsFile f = SafetensorsFile.open(reference)) {
      metadata = f.metadata();
      for (TensorInfo t : f.tensors().values()) {
        tensors.add(TensorData.raw(t.name(), t.dtype(), t.shape(), f.raw(t.name())));
      }
    }
    java.util.Collections.shuffle(tensors, new java.util.Random(3)); // the writer orders them itself
    Path written = tmp.resolve("out.safetensors");
    SafetensorsWriter.write(written, tensors, metadata);
    assertThat(Files.readAllBytes(written)).isEqualTo(Files.readAllBytes(reference));
  }

  @Test
  void bf16AndF16RoundAsTorchDoes() {
    JsonNode c = expected.get("__conversions__");
    for (int i = 0; i < c.get("f32_bits").size(); i++) {
      float f = Float.intBitsToFloat(c.get("f32_bits").get(i).asInt());
      assertThat(Floats.floatToBf16(f)).as("bf16 of %s", f).isEqualTo((short) c.get("bf16_bits").get(i).asInt());
      assertThat(Floats.floatToF16(f)).as("f16 of %s", f).isEqualTo((short) c.get("f16_bits").get(i).asInt());
      short half = (short) c.get("f16_bits").get(i).asInt();
      assertThat(Floats.floatToF16(Floats.f16ToFloat(half))).as("f16 round trip").isEqualTo(half);
    }
    assertThat(Float.isNaN(Floats.bf16ToFloat(Floats.floatToBf16(Float.NaN)))).isTrue();
    assertThat(Float.isNaN(Floats.f16ToFloat(Floats.floatToF16(Float.NaN)))).isTrue();
  }

  @Test
  void floatFactoriesWriteWhatTheReaderReads(@TempDir Path tmp) throws IOException {
    float[] values = {1.5f, -2.25f, 3.0e-3f, 1e20f};
    Path file = tmp.resolve("f.safetensors");
    SafetensorsWriter.write(file, List.of(TensorData.f32("a", new long[] {2, 2}, values),
        TensorData.bf16("b", new long[] {4}, values), TensorData.f16("c", new long[] {4}, values),
        TensorData.i64("d", new long[] {2}, new long[] {-1, Long.MAX_VALUE})), Map.of());
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.floats("a")).containsExactly(values);
      assertThat(f.floats("b")[0]).isEqualTo(1.5f);
      assertThat(f.floats("c")[3]).as("1e20 overflows fp16").isEqualTo(Float.POSITIVE_INFINITY);
      assertThat(f.longs("d")).containsExactly(-1, Long.MAX_VALUE);
      assertThat(f.metadata()).isEmpty();
    }
    assertThat(tmp.toFile().list()).as("no temporary file left").containsExactly("f.safetensors");
  }

  // ---- corruption ----

  private static byte[] reference() throws IOException {
    return Files.readAllBytes(DIR.resolve("mixed.safetensors"));
  }

  static String openError(Path tmp, byte[] bytes) throws IOException {
    Path file = tmp.resolve("bad.safetensors");
    Files.write(file, bytes);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      throw new AssertionError("opened " + f.tensors().keySet());
    } catch (CheckpointException e) {
      return e.getMessage().replace(file.toString(), "bad.safetensors");
    }
  }

  private static byte[] withHeader(String header, int dataBytes) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(json.length).put(json);
    return b.array();
  }

  @Test
  void truncatedFilesAreRefused(@TempDir Path tmp) throws IOException {
    byte[] full = reference();
    assertThat(openError(tmp, java.util.Arrays.copyOf(full, full.length - 5)))
        .isEqualTo("bad.safetensors: the tensors cover 286 bytes of data, the file holds 281 (truncated)");
    assertThat(openError(tmp, java.util.Arrays.copyOf(full, 100))).startsWith("bad.safetensors: truncated: the header needs");
    assertThat(openError(tmp, new byte[3])).startsWith("bad.safetensors: truncated: 3 bytes");
  }

  @Test
  void malformedHeadersAreRefusedWithTheTensorNamed(@TempDir Path tmp) throws IOException {
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8)))
        .startsWith("bad.safetensors: the header is not valid JSON");
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)))
        .isEqualTo("bad.safetensors: tensor a: dtype \"F99\" is not supported");
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)))
        .isEqualTo("bad.safetensors: tensor a: F32[3] needs 12 bytes, data_offsets give 8");
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)))
        .isEqualTo("bad.safetensors: tensor b starts at byte 4 of the data, overlapping the previous tensor");
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16)))
        .isEqualTo("bad.safetensors: tensor a starts at byte 8 of the data, leaving a gap after byte 0");
    assertThat(openError(tmp, withHeader("{\"__metadata__\":{\"n\":1}}", 0)))
        .isEqualTo("bad.safetensors: __metadata__.n must be a string");
    assertThat(openError(tmp, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8)))
        .isEqualTo("bad.safetensors: tensor a: shape[0] -2 is not a non-negative integer");
    byte[] huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array();
    assertThat(openError(tmp, huge)).startsWith("bad.safetensors: header length 1099511627776 is not in");
  }

  @Test
  void missingFilesNameThePath() {
    assertThatThrownBy(() -> SafetensorsFile.open(Path.of("/no/such.safetensors")))
        .hasMessage("/no/such.safetensors: no such file");
  }

  private static long[] longs(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }

  /**
   * A file over 2 GiB (sparse: it takes no disk space): tensors past the 2 GiB mark are mapped where they are, and a
   * tensor over 2 GiB is read in ranges.
   */
  @Test
  void readsTensorsBeyondTwoGibibytes(@TempDir Path tmp) throws IOException {
    long padFloats = (1L << 29) + 2; // 2 GiB + 8 bytes
    long padBytes = padFloats * 4;
    String header = "{\"pad\":{\"dtype\":\"F32\",\"shape\":[" + padFloats + "],\"data_offsets\":[0," + padBytes
        + "]},\"tail\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + padBytes + "," + (padBytes + 16) + "]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    Path file = tmp.resolve("big.safetensors");
    try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
      raf.write(prefix.array());
      raf.write(h);
      long dataStart = 8 + h.length;
      raf.seek(dataStart + padBytes - 4);
      ByteBuffer last = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
      last.putFloat(7.5f).putFloat(1f).putFloat(-2f).putFloat(3.25f).putFloat(1e-3f);
      raf.write(last.array()); // the pad's last value, then the tail, after the 2 GiB mark
    }
    assertThat(Files.size(file)).isGreaterThan(1L << 31);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.floats("tail")).containsExactly(1f, -2f, 3.25f, 1e-3f);
      ByteBuffer end = f.rawRange("pad", padBytes - 4, 4).order(ByteOrder.LITTLE_ENDIAN);
      assertThat(end.getFloat(0)).isEqualTo(7.5f);
      assertThatThrownBy(() -> f.raw("pad")).hasMessageContaining("2 GiB");
    }
  }
}
