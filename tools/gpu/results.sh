#!/usr/bin/env bash
# docs/results.md's real-model comparison on one GPU: SmolLM2-135M (8k context) extended to 32k by PoSE, full-length
# fine-tuning at 32k, RandPos and the interpolation alone, each a complete `pose run` (fetch, train, eval, publish)
# of tools/gpu/smollm2-32k-lease.yaml, written up by the results program (trainer-image's tinybase.Results) with the
# carried Java runtime, on a machine with no JDK and no network (the lent H200 machine).
#
# The model travels as its GGUF file (98 MB: more than one device call carries), split over two calls; the second
# also imports it; the third carries the runtime and runs the comparison. Prepare here:
#   bash tools/gpu/prepare-results.sh        (tools/gpu/README.md)
# Run there, each call as soon as the last returns (the machine stays warm 30 s, and keeps the files meanwhile):
#   1. carry [".device-carry/smollm2-a"], command "true"
#   2. carry [".device-carry/smollm2-b"], command "bash tools/gpu/results.sh model"
#   3. carry [".device-carry/results"],   command "bash tools/gpu/results.sh", timeout_s 570
# Results in $OUT: results.md (docs/results.md with the new section), the section's figure, work.tgz (each
# variant's eval/results.json, train log and spec: `Results --work` writes the section anywhere from them) and
# results.log. Exit 0 when every variant ran, 3 when the time ran out first (work.tgz has the finished ones).
#
# Environment: POSE_RESULTS_SPEC and POSE_RESULTS_METHODS choose the spec and the variants; POSE_RESULTS_DEADLINE is
# when (seconds after the start) the results program must have ended, so that packing and the copies fit in the
# call (default 530, for timeout_s 570); PYTHON is the interpreter; POSE_LIBTORCH=<classpath of libtorch's natives
# jars> runs on the CPU with that libtorch instead of the machine's torch (tools/gpu/rehearse-results.sh does).
set -uo pipefail
cd "$(dirname "$0")/../.."
P=.device-carry/results
M=.device-carry/smollm2-b
OUT=${OUT:-/tmp/pose-gpu-results}
SPEC=${POSE_RESULTS_SPEC:-tools/gpu/smollm2-32k-lease.yaml}
METHODS=${POSE_RESULTS_METHODS:-pose,full,none,randpos}
DEADLINE=${POSE_RESULTS_DEADLINE:-530}
PY=${PYTHON:-python3}
WORK=/tmp/pose-results-work
MODEL=.pose/models/smollm2-135m
mkdir -p "$OUT"
LOG="$OUT/results.log"
exec > >(tee -a "$LOG") 2>&1
say() { echo "[results $(date +%H:%M:%S)] $*"; }
fail() { say "FAILED: $*"; exit 2; }
begin=$(date +%s)

# the model: the GGUF file from its two parts, checked, and imported (dequantized, checked against the source's
# logits) by the recipe users run (tools/models/import_checkpoint.py), with the carried gguf package
import_model() {
  [ -f "$M/gguf.sha256" ] || fail "$M is missing: the call that carries it (the second) must come before this one"
  local name
  name=$(cut -d' ' -f3 "$M/gguf.sha256")
  for part in a b; do
    [ -f ".device-carry/smollm2-$part/$name.part-$part" ] || fail "the model's part $part is not here \
(.device-carry/smollm2-$part): the calls that carry the parts must come first, each within 30 s of the last, or the \
machine is given back in between and a fresh one starts bare; start again from the first call"
  done
  mkdir -p /tmp/pose-model
  cat ".device-carry/smollm2-a/$name.part-a" ".device-carry/smollm2-b/$name.part-b" > "/tmp/pose-model/$name"
  (cd /tmp/pose-model && sha256sum -c --quiet -) < "$M/gguf.sha256" \
    || fail "the joined $name is not the file prepare-results.sh split (SHA-256 differs)"
  rm -rf /tmp/pose-site
  "$PY" -m pip install -q --no-index --no-deps --target /tmp/pose-site "$M"/*.whl || fail "installing the gguf wheel"
  mkdir -p .pose/models && rm -rf "$MODEL"
  say "importing $name"
  PYTHONPATH=/tmp/pose-site${PYTHONPATH:+:$PYTHONPATH} "$PY" tools/models/import_checkpoint.py \
    "/tmp/pose-model/$name" "$MODEL" || fail "importing the model"
  rm -f "/tmp/pose-model/$name"
}
if [ "${1:-}" = model ]; then
  import_model
  say "model ready in $(( $(date +%s) - begin )) s: $MODEL"
  exit 0
fi

[ -d "$P/lib" ] || fail "$P is missing: run tools/gpu/prepare-results.sh here and carry $P in this call"
if [ -f "$MODEL/model.safetensors" ]; then
  say "the model imported by the second call: $MODEL"
else
  import_model
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
  DEVICE_TEXT="one $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed -n 1p \
    | awk -F', ' '{printf "%s (%s, driver %s)", $1, $2, $3}'), $(nproc) cores"
fi
# the charts' text: the carried libraries and fonts (prepare-results.sh), for Java alone; the libraries Python also
# links are taken from the machine where it has them (they are carried for a machine that has not)
SYSTEM_LIBS=$(ldconfig -p 2>/dev/null | awk 'NR > 1 {print $1}')
for lib in "$P"/jre/lib/host-fallback/*; do
  [ -e "$lib" ] || continue
  if ! grep -qxF "$(basename "$lib")" <<< "$SYSTEM_LIBS"; then
    ln -sf "$PWD/$lib" "$P/jre/lib/host/"
    say "using the carried $(basename "$lib"): the machine has none"
  fi
done
JAVA_LIBS="$PWD/$P/jre/lib/host${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p /tmp/pose-fontconfig
cat > /tmp/pose-fontconfig/fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>$PWD/$P/jre/lib/fonts</dir><cachedir>/tmp/pose-fontconfig/cache</cachedir></fontconfig>
EOF
export FONTCONFIG_FILE=/tmp/pose-fontconfig/fonts.conf
JAVA_TEXT=$("$P/jre/bin/java" -version 2>&1 | sed -n 1p | sed 's/.*version "\(.*\)".*/Java \1/')
say "machine: $DEVICE_TEXT; $TORCH_TEXT; $JAVA_TEXT"

# how the measurements were made, kept with them (the section reads them wherever it is written)
rm -rf "$WORK" && mkdir -p "$WORK"
echo "$DEVICE_TEXT, $(awk '/MemTotal/ {printf "%d GiB RAM", $2 / 1048576}' /proc/meminfo); $TORCH_TEXT; \
$JAVA_TEXT" > "$WORK/machine.txt"
echo "\`bash tools/gpu/results.sh\` on the device tool's machine (tools/gpu/README.md: \`bash \
tools/gpu/prepare-results.sh\` here first, then three calls)" > "$WORK/command.txt"

# what was measured, packed now and then (each pack under a name of its own, then renamed), so that a call cut
# short still brings back every finished variant
pack() {
  local tmp="$OUT/work.tgz.$1"
  (cd "$WORK" && { ls ./*.txt ./*.yaml 2>/dev/null; find . -path './*/eval/results.json' -o -path './*/logs/*' \
     -type f; } | tar -czf "$tmp" -T -) && mv "$tmp" "$OUT/work.tgz"
}
( trap 'exit 0' TERM; while :; do sleep 30 & wait $!; pack partial; done ) > /dev/null 2>&1 &
packer=$!

BUDGET=$(( DEADLINE - ($(date +%s) - begin) ))
[ "$BUDGET" -ge 60 ] || fail "$BUDGET s left of the $DEADLINE s deadline: too little to run the comparison"
say "results: $SPEC, variants $METHODS, at most $BUDGET s"
LD_LIBRARY_PATH="$JAVA_LIBS" timeout -k 10 "$BUDGET" "$P/jre/bin/java" -Xmx24g -Djava.awt.headless=true \
  -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1 -cp "$CP" \
  io.pose.trainer.tinybase.Results --spec "$SPEC" --methods "$METHODS" --work "$WORK" --out docs/results.md
code=$?
kill "$packer" 2>/dev/null
wait "$packer" 2>/dev/null
pack final
rm -f "$OUT/work.tgz.partial"
if [ "$code" = 124 ] || [ "$code" = 137 ]; then
  say "the results program ran out of its $BUDGET s: work.tgz holds the variants it finished"
  code=3
fi
if [ "$code" = 0 ]; then
  NAME=$(grep -m1 '^  name:' "$SPEC" | awk '{print $2}')
  cp docs/results.md "$OUT/results.md"
  cp docs/results/"$NAME"-passkey-*.png "$OUT/" 2>/dev/null
fi
say "exit $code after $(( $(date +%s) - begin )) s"
exit $code
