#!/usr/bin/env bash
# Builds, on a machine with JDK 17 and Maven Central, what tools/gpu/results.sh needs on the GPU machine (no JDK, no
# network) to run docs/results.md's SmolLM2 comparison at 32k there, in three folders the device tool carries one
# per call (each call carries at most 64 MiB with the working tree):
#   .device-carry/smollm2-a, -b   the two halves of SmolLM2-135M-Instruct's GGUF file (98 MB; tools/models/smollm2.sh);
#                                 -b also the file's SHA-256 and the gguf package's wheel (the import there needs it)
#   .device-carry/results         the Java runtime (xz), the results program's classpath, DJL's JNI sources and the
#                                 corpora (xz)
# Then it rehearses the whole run on this CPU (tools/gpu/rehearse-results.sh) unless NO_REHEARSAL=1.
# Usage: bash tools/models/smollm2.sh && bash tools/gpu/prepare-results.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
C=.device-carry
R=$C/results
cache=${POSE_CACHE:-$HOME/.cache/pose}
venv=$cache/venv-models
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
gguf=$cache/models/$GGUF_NAME
[ -f "$gguf" ] && [ -f .pose/models/python-docs/held-out.jsonl ] && [ -f .pose/models/python-docs-long/train.jsonl ] || {
  echo "prepare-results.sh: run tools/models/smollm2.sh first (it downloads $GGUF_NAME and writes the corpus)" >&2
  exit 1
}

# the GPU check's runtime, classpath and JNI sources, built and run on the CPU by prepare.sh
bash tools/gpu/prepare.sh
rm -rf "$R" "$C/smollm2-a" "$C/smollm2-b"
mkdir -p "$R/lib" "$C/smollm2-a" "$C/smollm2-b"

# the classpath of the results program: the jars its quick form loads on the tiny model, every method
./mvnw -q -B -ntp -pl trainer-image dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$PWD/$R/full-classpath.txt"
CP="trainer-image/target/test-classes:trainer-image/target/classes:$(cat "$R/full-classpath.txt")"
SCRATCH=$(mktemp -d)
cp docs/results.md "$SCRATCH/results.md"
java -verbose:class -Dai.djl.offline=true -cp "$CP" io.pose.trainer.tinybase.Results --spec examples/tiny-pose.yaml \
  --quick --methods pose,full,none,randpos --work "$SCRATCH/work" --out "$SCRATCH/results.md" > "$SCRATCH/classes.log" \
  2>&1 || { tail -40 "$SCRATCH/classes.log"; exit 1; }
grep -o 'source: file:[^ ]*\.jar' "$SCRATCH/classes.log" | sed 's/source: file://' | sort -u | while read -r jar; do
  case "$(basename "$jar")" in
    # libtorch comes from the machine's torch; tokenizers is thinned below
    pytorch-native-cpu-*|pytorch-jni-*|cuda-12*|javacpp-1.5.12*|tokenizers-*) ;;
    *) cp "$jar" "$R/lib/" ;;
  esac
done
rm -rf "$SCRATCH"
# the GPU check's jars (JNA, the CUDA 13 preset, JavaCPP), and the project's classes
cp -n "$C"/gpu/lib/*.jar "$R/lib/"
rm -f "$R/lib/pose-gpu-check.jar"
( cd trainer-image/target/test-classes && jar cf "../../../$R/lib/pose-results.jar" io/pose/trainer/bench \
  io/pose/trainer/tinybase )
# DJL's tokenizers with its Linux x86-64 library only (the jar carries five platforms' libraries, 19 MB)
TOK=$(tr ':' '\n' < "$R/full-classpath.txt" | grep -E '/tokenizers-[0-9.]+\.jar$' | sed -n 1p)
python3 - "$TOK" "$R/lib/$(basename "$TOK")" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        name = item.filename
        if name.startswith("native/lib/") and name.count("/") > 3 and not name.startswith("native/lib/linux-x86_64/"):
            continue
        dst.writestr(item, src.read(name))
PY
rm -f "$R/full-classpath.txt"

# a Java runtime that also draws the charts (java.desktop), with the libraries and fonts its text drawing loads,
# which a bare machine may lack: Debian's JDK links the system's freetype and harfbuzz and loads fontconfig with
# dlopen (results.sh puts lib/host on the library path and points fontconfig at lib/fonts); carried as xz
JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
BUILD=$(mktemp -d)
JRE=$BUILD/jre
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported,java.desktop --compress=0 \
  --strip-debug --no-man-pages --no-header-files --output "$JRE"
# a display's, sound's and splash screen's libraries: never loaded headless (the images drop them too: images' Jre)
rm -f "$JRE"/lib/libawt_xawt.so "$JRE"/lib/libsplashscreen.so "$JRE"/lib/libjawt.so "$JRE"/lib/libjsound.so
mkdir -p "$JRE/include/linux" "$JRE/lib/host" "$JRE/lib/host-fallback" "$JRE/lib/fonts"
cp "$JAVA_HOME/include/jni.h" "$JRE/include/"
cp "$JAVA_HOME/include/linux/jni_md.h" "$JRE/include/linux/"
# (awk reads to the end: an early exit would stop ldconfig with SIGPIPE, and pipefail would end this script)
FONTCONFIG=$(ldconfig -p | awk '/libfontconfig\.so\.1 / && !f {f = $NF} END {print f}')
[ -n "$FONTCONFIG" ] && [ -d /usr/share/fonts/truetype/dejavu ] || { echo "prepare-results.sh: needs fontconfig and \
the DejaVu fonts here (Debian/Ubuntu: apt-get install fontconfig fonts-dejavu-core)" >&2; exit 1; }
{ for so in "$JRE"/lib/*.so "$FONTCONFIG"; do ldd "$so"; done; echo "x => $FONTCONFIG (0)"; } \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    # the C and C++ runtimes every machine has, and the JDK's own libraries
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
    # what Python links too, so the machine will have it: used from there (results.sh), carried for one that has not
    libz.so*|libexpat.so*|libbz2.so*|liblzma.so*|libffi.so*|libuuid.so*|libpcre2*) cp -L "$lib" "$JRE/lib/host-fallback/" ;;
    *) [[ "$lib" == "$JRE"/* ]] || cp -L "$lib" "$JRE/lib/host/" ;;
  esac
done
cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
  "$JRE/lib/fonts/"
ls "$JRE/lib/host" > "$R/host-libs.txt"
tar -C "$BUILD" -cf - jre | xz -9 -T0 > "$R/jre.tar.xz"
rm -rf "$BUILD"
# DJL's JNI sources, the gguf package (transformers reads GGUF through it; the GPU machine lacks it), the corpus
cp -r "$C/gpu/jni" "$R/jni"
"$venv/bin/pip" download -q --no-deps gguf==0.19.0 -d "$C/smollm2-b"
tar -C .pose/models -cf - python-docs python-docs-long | xz -9 -T0 > "$R/corpus.tar.xz"

# the model in two halves, and the whole file's SHA-256
size=$(stat -c %s "$gguf")
half=$(( (size + 1) / 2 ))
head -c "$half" "$gguf" > "$C/smollm2-a/$GGUF_NAME.part-a"
tail -c +$(( half + 1 )) "$gguf" > "$C/smollm2-b/$GGUF_NAME.part-b"
(cd "$(dirname "$gguf")" && sha256sum "$GGUF_NAME") > "$C/smollm2-b/gguf.sha256"

# each call's carry with the working tree (tracked and untracked files git does not ignore) under 64 MiB
TREE=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
for d in smollm2-a smollm2-b results; do
  total=$(( TREE + $(du -sb "$C/$d" | cut -f1) ))
  printf '  call carrying %-10s %5.1f MiB with the working tree\n' "$d:" "$(echo "$total / 1048576" | bc -l)"
  [ "$total" -lt $(( 63 * 1048576 )) ] || { echo "prepare-results.sh: $C/$d is too large to carry" >&2; exit 1; }
done

if [ "${NO_REHEARSAL:-0}" != 1 ]; then
  bash tools/gpu/rehearse-results.sh
fi
echo "prepared: on the GPU machine, three calls (tools/gpu/README.md), the last: bash tools/gpu/results.sh"
