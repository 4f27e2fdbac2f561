#!/usr/bin/env bash
# Builds, on a machine with JDK 17 and Maven Central, everything tools/gpu/check.sh needs on a GPU machine that has
# no JDK and no network (its Python's torch is newer than the libtorch 2.7.1 DJL 0.36 ships for), into
# .device-carry/gpu (git-ignored, at most 64 MiB: what the device tool carries):
#   jre/          a jlink'ed Java 17 runtime with the modules the check uses, plus the JNI headers
#   lib/          the thinnest classpath: the jars the check's CPU run loads, JNA (DJL's CUDA probe), and JavaCPP's
#                 cuda preset for CUDA 13 (the machine's torch is cu130: libcudart.so.13)
#   jni/          DJL 0.36's JNI sources (pytorch-native) and the header javac generates for them, to build
#                 libdjl_torch.so there against the machine's own torch
# Usage: tools/gpu/prepare.sh            (DJL_SOURCE: a clone of github.com/deepjavalibrary/djl with tag v0.36.0)
set -euo pipefail
cd "$(dirname "$0")/../.."
P=.device-carry/gpu
DJL_SOURCE=${DJL_SOURCE:-/work/.mirror/deepjavalibrary+djl/repo}
DJL_TAG=v0.36.0
CUDA_PRESET=13.1-9.19-1.5.13
JAVACPP=1.5.13
rm -rf "$P"
mkdir -p "$P/lib" "$P/jni/include"

./mvnw -q -B -ntp -pl trainer-image -am install -DskipTests
./mvnw -q -B -ntp -pl trainer-image test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$PWD/$P/full-classpath.txt"
CP="trainer-image/target/test-classes:trainer-image/target/classes:$(cat "$P/full-classpath.txt")"

# the jars the check loads on CPU (every check but NCCL), found by running it
java -verbose:class -Dai.djl.offline=true -cp "$CP" io.pose.trainer.bench.GpuCheck --device cpu \
  --models trainer-image/src/test/resources/tiny-models --quick > "$P/classes.log" 2>&1
grep -o 'source: file:[^ ]*\.jar' "$P/classes.log" | sed 's/source: file://' | sort -u > "$P/jars.txt"
while read -r jar; do
  case "$(basename "$jar")" in
    # CPU libtorch (the machine has its own), CUDA 12 preset, the tokenizers engine (DJL's service loader finds it)
    pytorch-native-cpu-*|pytorch-jni-*|cuda-12*|javacpp-1.5.12*|tokenizers-*) ;;
    *) cp "$jar" "$P/lib/" ;;
  esac
done < "$P/jars.txt"
tr ':' '\n' < "$P/full-classpath.txt" | grep -E '/jna-[0-9.]+\.jar$' | head -1 | xargs -I{} cp {} "$P/lib/"
( cd trainer-image/target/classes && jar cf "../../../$P/lib/pose-trainer.jar" . )
( cd trainer-image/target/test-classes && jar cf "../../../$P/lib/pose-gpu-check.jar" io/pose/trainer/bench )
for a in "org.bytedeco:cuda:$CUDA_PRESET" "org.bytedeco:cuda:$CUDA_PRESET:jar:linux-x86_64" \
         "org.bytedeco:javacpp:$JAVACPP" "org.bytedeco:javacpp:$JAVACPP:jar:linux-x86_64"; do
  ./mvnw -q -B -ntp dependency:copy -Dartifact="$a" -DoutputDirectory="$PWD/$P/lib"
done

# a Java runtime of the modules the check uses (checked below by running it)
JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported \
  --strip-debug --no-man-pages --no-header-files --compress=2 --output "$P/jre"
mkdir -p "$P/jre/include/linux"
cp "$JAVA_HOME/include/jni.h" "$P/jre/include/"
cp "$JAVA_HOME/include/linux/jni_md.h" "$P/jre/include/linux/"

# DJL's JNI: its sources at the tag the project uses, and the header of PyTorchLibrary's native methods
git -C "$DJL_SOURCE" archive "$DJL_TAG" engines/pytorch/pytorch-native/src/main/native api/src/main/native \
  | tar -x -C "$P/jni"
SRC=$(mktemp -d)
git -C "$DJL_SOURCE" show "$DJL_TAG:engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java" \
  > "$SRC/PyTorchLibrary.java"
javac -h "$P/jni/include" -d "$SRC" -cp "$CP" "$SRC/PyTorchLibrary.java"
rm -rf "$SRC"

rm -f "$P/classes.log" "$P/jars.txt"

# the carried runtime and classpath run the check's CPU part here (with the CPU libtorch added for this run only)
NATIVES=$(tr ':' '\n' < "$P/full-classpath.txt" | grep -E 'pytorch-(native-cpu|jni)-' | paste -sd:)
"$P/jre/bin/java" -Dai.djl.offline=true -cp "$P/lib/*:$NATIVES" io.pose.trainer.bench.GpuCheck --device cpu \
  --models trainer-image/src/test/resources/tiny-models --quick > "$P/cpu-check.md" 2>&1 || { cat "$P/cpu-check.md"; exit 1; }
grep '^|' "$P/cpu-check.md"
rm -f "$P/full-classpath.txt"
du -sh "$P" "$P"/* | sed 's/^/  /'
SIZE=$(du -sm "$P" | cut -f1)
if [ "$SIZE" -gt 52 ]; then
  echo "prepare.sh: $P is $SIZE MiB: with the working tree (about 9 MiB) more than the 64 MiB the device tool carries" >&2
  exit 1
fi
echo "prepared $P ($SIZE MiB): on the GPU machine, run: bash tools/gpu/check.sh (carry $P)"
