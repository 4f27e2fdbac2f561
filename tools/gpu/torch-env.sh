# Sourced by tools/gpu/check.sh and tools/gpu/results.sh on the GPU machine: points DJL at the machine's own PyTorch
# (its CUDA build, newer than the libtorch 2.7.1 DJL 0.36 ships for) and builds DJL's JNI against it.
# Needs: P (the carried folder with jni/ and jre/), and the caller's say and fail functions.
# Sets: TV (torch's version), CUDA_TAG, and exports LD_LIBRARY_PATH and DJL's PYTORCH_* and cache variables.
PY=${PYTHON:-python3}
TORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))') || fail "$PY has no torch"
TV=$($PY -c 'import torch; print(torch.__version__.split("+")[0])')
CUDA_TAG=$($PY -c 'import torch; v = torch.version.cuda or ""; print("cu" + v.replace(".", ""))')
ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
SITE=$(dirname "$TORCH")
say "torch $TV ($CUDA_TAG, C++11 ABI $ABI) at $TORCH"

# the CUDA, cuDNN and NCCL libraries torch's libraries and JavaCPP's wrappers link by name
NVLIBS=$(find "$SITE/nvidia" /usr/local/cuda/lib64 -maxdepth 4 \( -name 'libcudart.so*' -o -name 'libnccl.so*' \
  -o -name 'libcublas*.so*' -o -name 'libcudnn*.so*' -o -name 'libnvrtc*.so*' -o -name 'libnvJitLink*.so*' \
  -o -name 'libcusparse*.so*' -o -name 'libcufft*.so*' -o -name 'libcurand*.so*' -o -name 'libcusolver*.so*' \
  -o -name 'libcupti*.so*' -o -name 'libnvToolsExt*.so*' -o -name 'libcufile*.so*' -o -name 'libnvshmem*.so*' \) \
  -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
export LD_LIBRARY_PATH="$TORCH/lib${NVLIBS:+:$NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# DJL's JNI, built against this torch; the library directory DJL loads: torch's libraries and the JNI
LIBDIR=/tmp/pose-libtorch
rm -rf "$LIBDIR" && mkdir -p "$LIBDIR"
for f in "$TORCH"/lib/*; do ln -s "$f" "$LIBDIR/"; done
jni_start=$(date +%s)
say "building libdjl_torch.so from DJL 0.36's JNI sources"
POSE_CARRY="$P" bash tools/gpu/build-jni.sh "$TORCH" "$LIBDIR" "$ABI" || fail "building DJL's JNI against torch $TV"
say "built in $(( $(date +%s) - jni_start )) s"

export PYTORCH_LIBRARY_PATH="$LIBDIR" PYTORCH_VERSION="$TV" PYTORCH_FLAVOR="$CUDA_TAG"
export DJL_CACHE_DIR=/tmp/pose-djl OPT_OUT_TRACKING=true DJL_OFFLINE=true RUST_FLAVOR=cpu
