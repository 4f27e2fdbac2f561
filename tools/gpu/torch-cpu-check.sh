#!/usr/bin/env bash
# The GPU check's path through a newer PyTorch, without a GPU: downloads the torch wheel the GPU machine has (and
# the CUDA runtime wheel its CPU library links), builds DJL 0.36's JNI against it (tools/gpu/build-jni.sh), and runs
# the check's CPU part on that libtorch with the carried Java runtime and classpath. What it proves: the JNI sources
# compile against that torch, DJL loads it, and the trainer's numerics hold there. Needs pip and a C++ compiler;
# about 600 MB of downloads, cached in $CACHE.
# Usage: tools/gpu/prepare.sh && tools/gpu/torch-cpu-check.sh [TORCH_VERSION]       (default 2.11.0, the GPU machine's)
set -euo pipefail
cd "$(dirname "$0")/../.."
TV=${1:-2.11.0}
P=.device-carry/gpu
CACHE=${CACHE:-$HOME/.cache/pose-torch-$TV}
mkdir -p "$CACHE"
if [ ! -d "$CACHE/torch/lib" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 -d "$CACHE/wheels" "torch==$TV"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$CACHE/wheels" "nvidia-cuda-runtime==13.0.*"
  ( cd "$CACHE" && unzip -q -o wheels/torch-"$TV"-*.whl 'torch/include/*' 'torch/lib/*' )
  unzip -q -j -o "$CACHE"/wheels/nvidia_cuda_runtime-*.whl 'nvidia/cu13/lib/libcudart.so.13' -d "$CACHE/cuda"
fi
TORCH="$CACHE/torch"
LIBDIR=$(mktemp -d)
# the CPU libraries only (libtorch_cuda needs the GPU stack); libcupti.so.13 (the profiler, never called on this
# path) is a stub with its name, so that libtorch_cpu.so loads
for f in libc10.so libtorch_cpu.so libgomp.so.1 libshm.so; do ln -s "$TORCH/lib/$f" "$LIBDIR/"; done
ln -s "$TORCH/lib/libtorch_cpu.so" "$LIBDIR/libtorch.so"
cp "$CACHE/cuda/libcudart.so.13" "$LIBDIR/"
echo 'void pose_profiler_stub(void) {}' > "$LIBDIR/stub.c"
gcc -shared -fPIC -o "$LIBDIR/libcupti.so.13" -Wl,-soname,libcupti.so.13 "$LIBDIR/stub.c" && rm "$LIBDIR/stub.c"
bash tools/gpu/build-jni.sh "$TORCH" "$LIBDIR" 1
LD_LIBRARY_PATH="$LIBDIR" PYTORCH_LIBRARY_PATH="$LIBDIR" PYTORCH_VERSION="$TV" PYTORCH_FLAVOR=cpu \
  DJL_CACHE_DIR="$LIBDIR/djl" OPT_OUT_TRACKING=true DJL_OFFLINE=true \
  "$P/jre/bin/java" -Dai.djl.offline=true -cp "$P/lib/*" io.pose.trainer.bench.GpuCheck --device cpu \
  --models trainer-image/src/test/resources/tiny-models --quick
