#!/usr/bin/env bash
# docs/results.md's real-model comparison on one GPU: SmolLM2-135M (8k context) extended to 32k by PoSE, full-length
# fine-tuning at 32k, RandPos and the interpolation alone, each a complete `pose run` (fetch, train, eval, publish)
# of tools/gpu/smollm2-32k-lease.yaml, written up by the results program (trainer-image's tinybase.Results) with the
# carried Java runtime, on a machine with no JDK and no network (the lent H200 machine).
#
# The model travels as its GGUF file (98 MB: more than one device call carries), split over two calls; the third
# carries the runtime and runs this script. Prepare here:  bash tools/gpu/prepare-results.sh  (tools/gpu/README.md)
# Run there, each call within 30 s of the last (the machine stays warm that long, and keeps the parts meanwhile):
#   1. carry [".device-carry/smollm2-a"], command "true"
#   2. carry [".device-carry/smollm2-b"], command "true"
#   3. carry [".device-carry/results"],   command "bash tools/gpu/results.sh", timeout_s 570
# Results in $OUT: results.md (docs/results.md with the new section), the section's figure, work.tgz (each
# variant's eval/results.json, train log and spec: `Results --work` writes the section anywhere from them) and
# results.log. Exit 0 when every variant ran.
#
# Environment: POSE_RESULTS_SPEC and POSE_RESULTS_METHODS choose the spec and the variants, POSE_RESULTS_BUDGET the
# seconds the results program may take (the rest of the call packs what it measured), PYTHON the interpreter;
# POSE_LIBTORCH=<classpath of libtorch's natives jars> runs on the CPU with that libtorch instead of the machine's
# torch (tools/gpu/rehearse-results.sh does, on a machine with no GPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
P=.device-carry/results
OUT=${OUT:-/tmp/pose-gpu-results}
SPEC=${POSE_RESULTS_SPEC:-tools/gpu/smollm2-32k-lease.yaml}
METHODS=${POSE_RESULTS_METHODS:-pose,full,none,randpos}
BUDGET=${POSE_RESULTS_BUDGET:-450}
PY=${PYTHON:-python3}
WORK=/tmp/pose-results-work
mkdir -p "$OUT"
LOG="$OUT/results.log"
exec > >(tee -a "$LOG") 2>&1
say() { echo "[results $(date +%H:%M:%S)] $*"; }
fail() { say "FAILED: $*"; exit 2; }
begin=$(date +%s)

[ -d "$P/lib" ] || fail "$P is missing: run tools/gpu/prepare-results.sh here and carry $P in this call"
GGUF_NAME=$(cut -d' ' -f3 "$P/gguf.sha256")
for part in a b; do
  ls .device-carry/smollm2-$part/"$GGUF_NAME".part-$part > /dev/null 2>&1 || fail "the model's part $part is not \
here (.device-carry/smollm2-$part): the two calls that carry the parts must come first, each within 30 s of the \
last, or the machine is given back in between and a fresh one starts bare; start again from the first call"
done

# the model: the GGUF file from its two parts, checked, and imported (dequantized, checked against the source's
# logits) by the recipe users run (tools/models/import_checkpoint.py), with the carried gguf package
MODEL=.pose/models/smollm2-135m
if [ ! -f "$MODEL/model.safetensors" ]; then
  mkdir -p /tmp/pose-model
  cat .device-carry/smollm2-a/"$GGUF_NAME".part-a .device-carry/smollm2-b/"$GGUF_NAME".part-b \
    > "/tmp/pose-model/$GGUF_NAME"
  (cd /tmp/pose-model && sha256sum -c --quiet -) < "$P/gguf.sha256" || fail "the joined $GGUF_NAME is not the \
file prepare-results.sh split (SHA-256 differs)"
  rm -rf /tmp/pose-site && "$PY" -m pip install -q --no-index --no-deps --target /tmp/pose-site "$P"/wheels/*.whl \
    || fail "installing the carried gguf wheel"
  mkdir -p .pose/models && rm -rf "$MODEL"
  say "importing $GGUF_NAME"
  PYTHONPATH=/tmp/pose-site${PYTHONPATH:+:$PYTHONPATH} "$PY" tools/models/import_checkpoint.py \
    "/tmp/pose-model/$GGUF_NAME" "$MODEL" || fail "importing the model"
fi
rm -rf .pose/models/python-docs .pose/models/python-docs-long
"$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$P/corpus.tar.xz" .pose/models \
  || fail "unpacking the corpora"

# the Java runtime (carried as xz: it is the largest part) and libtorch
if [ ! -x "$P/jre/bin/java" ]; then
  "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$P/jre.tar.xz" "$P" \
    || fail "unpacking the Java runtime"
fi
CP="$P/lib/*"
if [ -n "${POSE_LIBTORCH:-}" ]; then
  CP="$CP:$POSE_LIBTORCH"
  TORCH_TEXT="the project's libtorch (CPU)"
  DEVICE_TEXT="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), no GPU"
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || fail "no GPU (nvidia-smi)"
  source tools/gpu/torch-env.sh
  TORCH_TEXT="torch $TV ($CUDA_TAG; DJL 0.36's JNI built there)"
  DEVICE_TEXT="one $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1 \
    | awk -F', ' '{printf "%s (%s, driver %s)", $1, $2, $3}'), $(nproc) cores"
fi
# the charts' text: the carried libraries and fonts (prepare-results.sh), for Java alone
JAVA_LIBS="$PWD/$P/jre/lib/host${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p /tmp/pose-fontconfig
cat > /tmp/pose-fontconfig/fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>$PWD/$P/jre/lib/fonts</dir><cachedir>/tmp/pose-fontconfig/cache</cachedir></fontconfig>
EOF
export FONTCONFIG_FILE=/tmp/pose-fontconfig/fonts.conf
JAVA_TEXT=$("$P/jre/bin/java" -version 2>&1 | head -1 | sed 's/.*version "\(.*\)".*/Java \1/')
say "machine: $DEVICE_TEXT; $TORCH_TEXT; $JAVA_TEXT"

# how the measurements were made, kept with them (the section reads them wherever it is written)
rm -rf "$WORK" && mkdir -p "$WORK"
echo "$DEVICE_TEXT, $(awk '/MemTotal/ {printf "%d GiB RAM", $2 / 1048576}' /proc/meminfo); $TORCH_TEXT; \
$JAVA_TEXT" > "$WORK/machine.txt"
echo "\`bash tools/gpu/results.sh\` on the device tool's machine (tools/gpu/README.md: \`bash \
tools/gpu/prepare-results.sh\` here first, then three calls)" > "$WORK/command.txt"

# what was measured, packed now and then, so that a call cut short still brings back every finished variant
pack() {
  (cd "$WORK" && { ls ./*.txt ./*.yaml 2>/dev/null; find . -path './*/eval/results.json' -o -path './*/logs/*' \
     -type f; } | tar -czf "$OUT/work.tgz.partial" -T -) && mv "$OUT/work.tgz.partial" "$OUT/work.tgz"
}
( while sleep 30; do pack; done ) &
packer=$!

say "results: $SPEC, variants $METHODS, at most $BUDGET s"
LD_LIBRARY_PATH="$JAVA_LIBS" timeout "$BUDGET" "$P/jre/bin/java" -Xmx24g -Djava.awt.headless=true -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1 -cp "$CP" \
  io.pose.trainer.tinybase.Results --spec "$SPEC" --methods "$METHODS" --work "$WORK" --out docs/results.md
code=$?
kill "$packer" 2>/dev/null
pack
[ "$code" = 124 ] && say "the results program ran out of its $BUDGET s: work.tgz holds the variants it finished"
NAME=$(grep -m1 '^  name:' "$SPEC" | awk '{print $2}')
cp docs/results.md "$OUT/results.md"
cp docs/results/"$NAME"-passkey-*.png "$OUT/" 2>/dev/null
say "exit $code after $(( $(date +%s) - begin )) s"
exit $code
