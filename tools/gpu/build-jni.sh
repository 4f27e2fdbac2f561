#!/usr/bin/env bash
# Builds DJL 0.36's JNI library (libdjl_torch.so) against a PyTorch installation's own libtorch, from the sources
# tools/gpu/prepare.sh put into .device-carry/gpu/jni, without CMake (torch's CMake config wants the CUDA toolkit)
# and without USE_CUDA (CUDA kernels come from libtorch_cuda.so, which DJL loads beside it).
# Usage: tools/gpu/build-jni.sh TORCH_DIR OUT_DIR [CXX11_ABI]     (TORCH_DIR: the torch package, with include/, lib/)
set -euo pipefail
TORCH=$1
OUT_DIR=$2
ABI=${3:-1}
P=${POSE_CARRY:-.device-carry/gpu}
NATIVE="$P/jni/engines/pytorch/pytorch-native/src/main/native"
[ -d "$NATIVE" ] || { echo "build-jni.sh: $NATIVE is missing: run tools/gpu/prepare.sh" >&2; exit 2; }
OBJ=$(mktemp -d)
FLAGS="-O2 -fPIC -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=$ABI -I$TORCH/include -I$TORCH/include/torch/csrc/api/include \
  -I$P/jni/include -I$P/jni/api/src/main/native -I$P/jre/include -I$P/jre/include/linux -w"
failed=0
for f in "$NATIVE"/*.cc; do
  ( g++ $FLAGS -c "$f" -o "$OBJ/$(basename "$f" .cc).o" 2> "$OBJ/$(basename "$f" .cc).err" \
      || { echo "build-jni.sh: compiling $(basename "$f") failed:"; head -30 "$OBJ/$(basename "$f" .cc).err"; exit 1; } ) &
  # at most as many compilers as cores
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 0.2; done
done
wait
# every source compiled (the throttle's `jobs -r` forgets finished jobs, so their exit status is not waited for)
for f in "$NATIVE"/*.cc; do
  [ -s "$OBJ/$(basename "$f" .cc).o" ] || { echo "build-jni.sh: $(basename "$f") did not compile"; failed=1; }
done
[ "$failed" = 0 ] || exit 1
LIBS="-ltorch_cpu -lc10"
[ -e "$TORCH/lib/libtorch.so" ] && LIBS="-ltorch $LIBS"
mkdir -p "$OUT_DIR"
g++ -shared -o "$OUT_DIR/libdjl_torch.so" "$OBJ"/*.o -L"$TORCH/lib" $LIBS -Wl,-rpath,"$TORCH/lib"
rm -rf "$OBJ"
echo "built $OUT_DIR/libdjl_torch.so against $TORCH"
