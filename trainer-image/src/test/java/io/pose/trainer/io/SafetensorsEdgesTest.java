package io.pose.trainer.io;

import static io.pose.trainer.io.SafetensorsTest.openError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safetensors reader at the edges of every rule (SafetensorsTest has the reference files and the common
 * corruptions): the bounds of the header length, ranges at exactly a tensor's end, the 2 GiB limit of one buffer,
 * reads in windows and short reads, and what is left open when a file is refused or closed.
 */
class SafetensorsEdgesTest {

  static byte[] file(String header, byte[] data) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length)
        .put(json).put(data).array();
  }

  static byte[] length(long headerLength, int fileBytes) {
    return ByteBuffer.allocate(fileBytes).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLength).array();
  }

  @Test
  void theHeaderLengthMustLieInOneToTheLimitAndInsideTheFile(@TempDir Path tmp) throws IOException {
    assertThat(openError(tmp, new byte[7])).isEqualTo("bad.safetensors: truncated: 7 bytes, a safetensors file starts "
        + "with an 8-byte header length");
    assertThat(openError(tmp, length(0, 8))).isEqualTo("bad.safetensors: header length 0 is not in [1, 100000000]: "
        + "not a safetensors file");
    assertThat(openError(tmp, length(-1, 16))).startsWith("bad.safetensors: header length -1 is not in");
    assertThat(openError(tmp, length(1, 8))).isEqualTo("bad.safetensors: truncated: the header needs 1 bytes, the "
        + "file has 0 after the length");
    assertThat(openError(tmp, length(SafetensorsFile.MAX_HEADER_BYTES, 20))).isEqualTo("bad.safetensors: truncated: "
        + "the header needs 100000000 bytes, the file has 12 after the length");
    assertThat(openError(tmp, length(SafetensorsFile.MAX_HEADER_BYTES + 1, 20)))
        .isEqualTo("bad.safetensors: header length 100000001 is not in [1, 100000000]: not a safetensors file");
    assertThat(openError(tmp, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,12]}}",
        new byte[12]))).isEqualTo("bad.safetensors: tensor a: F32[3] needs 12 bytes, data_offsets give 8");
    // one byte of header: read, and refused as JSON
    byte[] one = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN).putLong(1).put((byte) '[').array();
    assertThat(openError(tmp, one)).startsWith("bad.safetensors: the header is not valid JSON");
  }

  /** The header may list tensors in any order; their offsets must tile the data once sorted. */
  @Test
  void tensorsListedOutOfOrderAreRead(@TempDir Path tmp) throws IOException {
    ByteBuffer data = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2).putFloat(3);
    Path path = tmp.resolve("order.safetensors");
    Files.write(path, file("{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data.array()));
    try (SafetensorsFile f = SafetensorsFile.open(path)) {
      assertThat(f.path()).isEqualTo(path);
      assertThat(f.tensors().keySet()).containsExactly("a", "z");
      assertThat(f.floats("a")).containsExactly(1f, 2f);
      assertThat(f.floats("z")).containsExactly(3f);
    }
  }

  /** Ranges of bytes and of elements up to exactly a tensor's end are read; one past it is refused, named. */
  @Test
  void rangesEndAtMostAtTheTensorsEnd(@TempDir Path tmp) throws IOException {
    ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 4; i++) {
      data.putFloat(10 + i);
    }
    Path path = tmp.resolve("r.safetensors");
    Files.write(path, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data.array()));
    try (SafetensorsFile f = SafetensorsFile.open(path)) {
      assertThat(f.rawRange("a", 12, 4).getFloat()).isEqualTo(13f);
      assertThat(f.rawRange("a", 16, 0).remaining()).isZero();
      assertThatThrownBy(() -> f.rawRange("a", 4, 16)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("range [4, 20) is outside a");
      assertThatThrownBy(() -> f.rawRange("a", -1, 2)).hasMessage("range [-1, 1) is outside a");
      assertThatThrownBy(() -> f.rawRange("a", 2, -1)).hasMessage("range [2, 1) is outside a");
      assertThat(f.floats("a", 1, 3)).containsExactly(11f, 12f, 13f);
      assertThat(f.floats("a", 4, 0)).isEmpty();
      assertThatThrownBy(() -> f.floats("a", 2, 3)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("elements [2, 5) are outside a (4 elements)");
      assertThatThrownBy(() -> f.floats("a", -1, 1)).hasMessage("elements [-1, 0) are outside a (4 elements)");
      assertThatThrownBy(() -> f.floats("a", 0, -1)).hasMessage("elements [0, -1) are outside a (4 elements)");
    }
  }

  /**
   * A range of elements is mapped a window at a time (by default 256 MiB): read with windows of a few elements,
   * every type gives what one window gives, from any start.
   */
  @Test
  void everyTypeReadsTheSameInWindowsOfAnySize(@TempDir Path tmp) throws IOException {
    float[] values = new float[11];
    for (int i = 0; i < values.length; i++) {
      values[i] = (i - 5) * 0.25f;
    }
    Path path = tmp.resolve("w.safetensors");
    SafetensorsWriter.write(path, List.of(TensorData.f32("f32", new long[] {11}, values),
        TensorData.bf16("bf16", new long[] {11}, values), TensorData.f16("f16", new long[] {11}, values)), Map.of());
    Path f64 = tmp.resolve("f64.safetensors");
    ByteBuffer doubles = ByteBuffer.allocate(88).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      doubles.putDouble(v);
    }
    Files.write(f64, file("{\"f64\":{\"dtype\":\"F64\",\"shape\":[11],\"data_offsets\":[0,88]}}", doubles.array()));
    for (Path p : List.of(path, f64)) {
      try (SafetensorsFile f = SafetensorsFile.open(p)) {
        for (String name : f.tensors().keySet()) {
          assertThat(f.floats(name)).as(name).containsExactly(values);
          for (int window : new int[] {1, 7, 8, 9, 16, 24, 1 << 20}) {
            for (int begin : new int[] {0, 3}) {
              float[] expected = java.util.Arrays.copyOfRange(values, begin, 11);
              assertThat(f.floats(name, begin, 11 - begin, window)).as("%s from %d, windows of %d bytes", name, begin,
                  window).containsExactly(expected);
            }
          }
        }
      }
    }
  }

  /** One buffer holds at most 2^31 - 1 bytes: a tensor of exactly that is one buffer, one byte more is read in ranges. */
  @Test
  void aTensorOfUpToTwoGibibytesLessOneByteIsOneBuffer(@TempDir Path tmp) throws IOException {
    for (long bytes : new long[] {Integer.MAX_VALUE, Integer.MAX_VALUE + 1L}) {
      String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + bytes + "],\"data_offsets\":[0," + bytes + "]}}";
      byte[] h = header.getBytes(StandardCharsets.UTF_8);
      Path path = tmp.resolve("big-" + bytes + ".safetensors");
      try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
        raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        raf.write(h);
        raf.setLength(8 + h.length + bytes); // sparse: no disk used
      }
      try (SafetensorsFile f = SafetensorsFile.open(path)) {
        if (bytes == Integer.MAX_VALUE) {
          assertThat(f.raw("big").capacity()).isEqualTo(Integer.MAX_VALUE);
        } else {
          assertThatThrownBy(() -> f.raw("big")).isInstanceOf(CheckpointException.class)
              .hasMessage(path + ": tensor big has 2147483648 bytes, more than one buffer holds (2 GiB); read it in "
                  + "ranges");
          assertThat(f.rawRange("big", 1, Integer.MAX_VALUE).capacity()).isEqualTo(Integer.MAX_VALUE);
          assertThatThrownBy(() -> f.rawRange("big", 0, Integer.MAX_VALUE + 1L))
              .hasMessage("range [0, 2147483648) is outside big");
        }
      } finally {
        Files.delete(path);
      }
    }
  }

  /** A read may return fewer bytes than asked (network file systems do): the header is read until it is whole. */
  @Test
  void shortReadsAreContinuedAndTheEndOfTheFileIsNamed() throws IOException {
    byte[] source = "0123456789".getBytes(StandardCharsets.US_ASCII);
    List<Long> positions = new ArrayList<>();
    SafetensorsFile.PositionalRead oneByte = (buffer, position) -> {
      positions.add(position);
      if (position >= source.length) {
        return -1;
      }
      buffer.put(source[(int) position]);
      return 1;
    };
    ByteBuffer six = ByteBuffer.allocate(6);
    SafetensorsFile.readFully(oneByte, six, 2);
    assertThat(new String(six.array(), StandardCharsets.US_ASCII)).isEqualTo("234567");
    assertThat(positions).containsExactly(2L, 3L, 4L, 5L, 6L, 7L);
    assertThatThrownBy(() -> SafetensorsFile.readFully(oneByte, ByteBuffer.allocate(4), 8))
        .isInstanceOf(CheckpointException.class).hasMessage("unexpected end of file at byte 10");
  }


  /** A refused file is closed at once (a scan over many bad files runs out of no descriptors); so is a closed one. */
  @Test
  void refusedAndClosedFilesHoldNoDescriptor(@TempDir Path tmp) throws IOException {
    Path bad = tmp.resolve("bad.safetensors");
    Files.write(bad, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]));
    int before = OpenFiles.count();
    assertThat(before).as("/proc/self/fd is readable").isPositive();
    for (int i = 0; i < 200; i++) {
      assertThatThrownBy(() -> SafetensorsFile.open(bad)).isInstanceOf(CheckpointException.class);
    }
    assertThat(OpenFiles.count()).isLessThan(before + 20);

    Path good = tmp.resolve("good.safetensors");
    Files.write(good, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]));
    SafetensorsFile f = SafetensorsFile.open(good);
    assertThat(f.floats("a")).containsExactly(0f, 0f);
    f.close();
    assertThatThrownBy(() -> f.floats("a")).isInstanceOf(ClosedChannelException.class);
  }

  /** Tensor entries are values: equal when every field is, arrays compared by content. */
  @Test
  void tensorEntriesAreValues() {
    TensorInfo a = new TensorInfo("w", DType.F32, new long[] {2, 3}, 0, 24);
    assertThat(a).isEqualTo(new TensorInfo("w", DType.F32, new long[] {2, 3}, 0, 24))
        .hasSameHashCodeAs(new TensorInfo("w", DType.F32, new long[] {2, 3}, 0, 24));
    assertThat(a).isNotEqualTo(new TensorInfo("v", DType.F32, new long[] {2, 3}, 0, 24))
        .isNotEqualTo(new TensorInfo("w", DType.BF16, new long[] {2, 3}, 0, 24))
        .isNotEqualTo(new TensorInfo("w", DType.F32, new long[] {3, 2}, 0, 24))
        .isNotEqualTo(new TensorInfo("w", DType.F32, new long[] {2, 3}, 8, 32))
        .isNotEqualTo(new TensorInfo("w", DType.F32, new long[] {2, 3}, 0, 25))
        .isNotEqualTo("w");
    assertThat(a.hashCode()).isEqualTo("w".hashCode() * 31 + java.util.Arrays.hashCode(new long[] {2, 3}));
    assertThat(a).hasToString("w F32[2, 3]");
    assertThat(a.elements()).isEqualTo(6);
    assertThat(a.bytes()).isEqualTo(24);
  }
}
