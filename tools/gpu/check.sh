#!/usr/bin/env bash
# The trainer on one NVIDIA GPU, checked in under 10 minutes with no network and no JDK (the lent H200 machine):
# builds DJL 0.36's JNI against the machine's own PyTorch (its torch is newer than the libtorch 2.7.1 DJL ships
# for), then runs io.pose.trainer.bench.GpuCheck with the carried Java runtime: the tiny models' forward and
# backward on CUDA against transformers, bf16 training steps of a ~100M Llama (tokens/s, model FLOPs utilization,
# memory against the plan), ZeRO-3 over two thread ranks on the GPU, NCCL at world size 1; then, in a JVM of its
# own, the cost curve: step time and GPU memory of PoSE and of full-length training at 1x to 16x the window.
#
# Prepare here:  bash tools/gpu/prepare.sh                 (writes .device-carry/gpu, about 48 MiB)
# Run there:     device run, command "bash tools/gpu/check.sh", carry [".device-carry/gpu"], timeout 600
# Results:       $OUT/gpu-check.md (the table), $OUT/gpu-check.log (everything); exit 0 when every check passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
P=.device-carry/gpu
OUT=${OUT:-/tmp/pose-gpu-check}
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
exec > >(tee -a "$LOG") 2>&1
say() { echo "[gpu-check $(date +%H:%M:%S)] $*"; }
fail() { say "FAILED: $*"; exit 2; }

[ -x "$P/jre/bin/java" ] || fail "$P/jre is missing: run tools/gpu/prepare.sh here and carry $P"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || fail "no GPU (nvidia-smi)"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$GPU" in
  *H200*|*H100*SXM*|*H100\ 80GB\ HBM3*) PEAK=989 ;;   # dense bf16 TFLOPS of the SXM parts (datasheet)
  *H100*) PEAK=756 ;;
  *A100*) PEAK=312 ;;
  *L40S*) PEAK=362 ;;
  *) PEAK=0 ;;
esac

say "GPU $GPU, peak $PEAK TFLOPS"
source tools/gpu/torch-env.sh
say "GpuCheck (steps of the ~100M model, ZeRO-3 on thread ranks, NCCL)"
"$P/jre/bin/java" -Xmx8g -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1 -cp "$P/lib/*" \
  io.pose.trainer.bench.GpuCheck --device gpu --models trainer-image/src/test/resources/tiny-models \
  --peak-tflops "$PEAK" --part checks --out "$OUT/gpu-check.md"
code=$?
# the cost curve in a process of its own: the memory libtorch's caching allocator holds is then the curve's alone
say "GpuCheck cost curve (PoSE and full-length at 1x to 16x the window)"
"$P/jre/bin/java" -Xmx8g -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1 -cp "$P/lib/*" \
  io.pose.trainer.bench.GpuCheck --device gpu --models trainer-image/src/test/resources/tiny-models \
  --part cost --out "$OUT/gpu-cost.md"
cost=$?
[ -f "$OUT/gpu-cost.md" ] && tail -n +3 "$OUT/gpu-cost.md" | grep -v '^| engine ' >> "$OUT/gpu-check.md"
rm -f "$OUT/gpu-cost.md"
[ "$code" = 0 ] && code=$cost
{ echo; echo "Machine: $GPU ($(nvidia-smi --query-gpu=memory.total,driver_version --format=csv,noheader)), torch $TV"
  echo "Command: \`bash tools/gpu/check.sh\` (tools/gpu/prepare.sh first), $(date -u +%Y-%m-%d)"; } >> "$OUT/gpu-check.md"
say "exit $code"
exit $code
