package io.pose.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the dynamic loader reads from a shared library: its SONAME, its DT_NEEDED entries and its search path
 * (DT_RUNPATH, or the older DT_RPATH). Only 64-bit little-endian ELF (x86_64, aarch64), the images' platforms.
 *
 * <p>It reads through the program headers, as the loader does (section headers may be stripped), and only forward
 * through a {@link Input}: an inflating stream over a zip member (a wheel or a jar) restarts from the beginning when
 * it must go back, so no library is ever unpacked to disk or held in memory to be inspected.
 */
public record Elf(String soname, List<String> needed, List<String> runpath, List<String> rpath) {

  private static final int PT_LOAD = 1;
  private static final int PT_DYNAMIC = 2;
  private static final long DT_NULL = 0;
  private static final long DT_NEEDED = 1;
  private static final long DT_STRTAB = 5;
  private static final long DT_STRSZ = 10;
  private static final long DT_SONAME = 14;
  private static final long DT_RPATH = 15;
  private static final long DT_RUNPATH = 29;

  /** Random reads over a file that may only be readable forwards, from its start (see {@link #of}). */
  public interface Input extends AutoCloseable {
    /** Exactly {@code length} bytes at {@code offset}, or an EOFException naming the file. */
    byte[] read(long offset, int length) throws IOException;

    @Override
    void close() throws IOException;
  }

  /** Opens the same bytes again from their start (a zip member's inflating stream, a file's channel). */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  /** An {@link Input} over a stream that can only be reopened: reads forward, reopens to go back. */
  public static Input of(String name, Opener opener) {
    return new Input() {
      InputStream in;
      long position;

      @Override
      public byte[] read(long offset, int length) throws IOException {
        if (in == null || offset < position) {
          close();
          in = opener.open();
          position = 0;
        }
        in.skipNBytes(offset - position);
        position = offset;
        byte[] bytes = in.readNBytes(length);
        position += bytes.length;
        if (bytes.length < length) {
          throw new java.io.EOFException(name + ": ends at byte " + position + ", inside its ELF headers ("
              + length + " bytes at " + offset + " were needed): a truncated library");
        }
        return bytes;
      }

      @Override
      public void close() throws IOException {
        if (in != null) {
          in.close();
          in = null;
        }
      }
    };
  }

  /** Whether these bytes start like an ELF file (a library, not a linker script or a symlink stand-in). */
  public static boolean isElf(byte[] start) {
    return start.length >= 4 && start[0] == 0x7f && start[1] == 'E' && start[2] == 'L' && start[3] == 'F';
  }

  /**
   * Reads the dynamic section of a shared library or executable.
   *
   * @throws IOException if the file is not a 64-bit little-endian ELF file or is truncated; the message names it
   */
  public static Elf read(String name, Input input) throws IOException {
    if (!isElf(input.read(0, 4))) {
      throw new IOException(name + ": not an ELF file");
    }
    ByteBuffer header = le(input.read(0, 64));
    if (header.get(4) != 2 || header.get(5) != 1) {
      throw new IOException(name + ": not a 64-bit little-endian ELF file (class " + header.get(4) + ", data "
          + header.get(5) + ")");
    }
    long phoff = header.getLong(0x20);
    int phentsize = Short.toUnsignedInt(header.getShort(0x36));
    int phnum = Short.toUnsignedInt(header.getShort(0x38));
    ByteBuffer ph = le(input.read(phoff, phentsize * phnum));
    List<long[]> loads = new ArrayList<>(); // vaddr, offset, filesz
    long dynOffset = -1;
    long dynSize = 0;
    for (int i = 0; i < phnum; i++) {
      int at = i * phentsize;
      int type = ph.getInt(at);
      long offset = ph.getLong(at + 8);
      long vaddr = ph.getLong(at + 16);
      long filesz = ph.getLong(at + 32);
      if (type == PT_LOAD) {
        loads.add(new long[] {vaddr, offset, filesz});
      } else if (type == PT_DYNAMIC) {
        dynOffset = offset;
        dynSize = filesz;
      }
    }
    if (dynOffset < 0) {
      return new Elf(null, List.of(), List.of(), List.of()); // statically linked
    }
    ByteBuffer dyn = le(input.read(dynOffset, Math.toIntExact(dynSize)));
    long strtab = -1;
    long strsz = 0;
    List<Long> needed = new ArrayList<>();
    long soname = -1;
    long runpath = -1;
    long rpath = -1;
    for (int at = 0; at + 16 <= dynSize; at += 16) {
      long tag = dyn.getLong(at);
      long value = dyn.getLong(at + 8);
      if (tag == DT_NULL) {
        break;
      } else if (tag == DT_NEEDED) {
        needed.add(value);
      } else if (tag == DT_STRTAB) {
        strtab = value;
      } else if (tag == DT_STRSZ) {
        strsz = value;
      } else if (tag == DT_SONAME) {
        soname = value;
      } else if (tag == DT_RUNPATH) {
        runpath = value;
      } else if (tag == DT_RPATH) {
        rpath = value;
      }
    }
    if (strtab < 0) {
      throw new IOException(name + ": its dynamic section has no string table");
    }
    long strOffset = -1;
    for (long[] load : loads) {
      if (strtab >= load[0] && strtab < load[0] + load[2]) {
        strOffset = strtab - load[0] + load[1];
      }
    }
    if (strOffset < 0) {
      throw new IOException(name + ": its string table (address 0x" + Long.toHexString(strtab)
          + ") is in no loadable segment");
    }
    byte[] strings = input.read(strOffset, Math.toIntExact(strsz));
    List<String> names = new ArrayList<>();
    for (long n : needed) {
      names.add(string(strings, n, name));
    }
    return new Elf(soname < 0 ? null : string(strings, soname, name), List.copyOf(names),
        runpath < 0 ? List.of() : paths(string(strings, runpath, name)),
        rpath < 0 ? List.of() : paths(string(strings, rpath, name)));
  }

  private static List<String> paths(String value) {
    List<String> out = new ArrayList<>();
    for (String p : value.split(":")) {
      if (!p.isEmpty()) {
        out.add(p);
      }
    }
    return List.copyOf(out);
  }

  private static String string(byte[] table, long offset, String name) throws IOException {
    if (offset < 0 || offset >= table.length) {
      throw new IOException(name + ": a dynamic entry points outside its string table");
    }
    int end = (int) offset;
    while (end < table.length && table[end] != 0) {
      end++;
    }
    return new String(table, (int) offset, end - (int) offset, StandardCharsets.UTF_8);
  }

  private static ByteBuffer le(byte[] bytes) {
    return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }
}
