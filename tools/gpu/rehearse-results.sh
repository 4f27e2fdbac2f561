#!/usr/bin/env bash
# Rehearses tools/gpu/results.sh on this CPU, as the GPU machine will run it: in a copy of the working tree holding
# only what travels (the files git tracks or does not ignore, and the three carried folders), with the carried Java
# runtime and classpath, the model joined from its two parts and imported by Python, and every method through `pose
# run`, at tools/gpu/smollm2-rehearsal.yaml's CPU size. What differs there: the machine's own torch (CUDA) instead
# of the project's libtorch, built into DJL by tools/gpu/torch-env.sh (proven by tools/gpu/check.sh), and the spec.
# Usage: bash tools/gpu/prepare-results.sh (it calls this), or on its own after it.     About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${POSE_CACHE:-$HOME/.cache/pose}
ROOT=${REHEARSAL_DIR:-/tmp/pose-rehearsal}
rm -rf "$ROOT" "/tmp/pose-results-work" && mkdir -p "$ROOT/repo" "$ROOT/out"
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$ROOT/repo"
for d in smollm2-a smollm2-b results; do
  [ -d ".device-carry/$d" ] || { echo "rehearse-results.sh: .device-carry/$d is missing: run prepare-results.sh" >&2
    exit 1; }
  mkdir -p "$ROOT/repo/.device-carry" && cp -r ".device-carry/$d" "$ROOT/repo/.device-carry/"
done
# the project's CPU libtorch, in place of the machine's torch
./mvnw -q -B -ntp -pl trainer-image dependency:build-classpath -Dmdep.outputFile="$ROOT/cp.txt" > /dev/null
NATIVES=$(tr ':' '\n' < "$ROOT/cp.txt" | grep -E 'pytorch-(native-cpu|jni)-' | paste -sd:)

start=$(date +%s)
code=0
# as on a bare machine: no fonts, and none of the libraries the runtime carries for drawing text (hidden in a
# mount namespace of this run's own), so that the carried ones are what the charts use
HIDE=""
while read -r lib; do
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/$lib" ]; then HIDE="$HIDE $dir/$lib"; fi
  done
done < .device-carry/results/host-libs.txt
unshare -m --propagation private bash -c '
  set -e
  for d in /usr/share/fonts /etc/fonts; do if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi; done
  for f in '"$HIDE"'; do mount --bind /dev/null "$f"; done
  cd "'"$ROOT"'/repo"
  export OUT="'"$ROOT"'/out" PYTHON="'"$cache"'/venv-models/bin/python"
  bash tools/gpu/results.sh model
  POSE_LIBTORCH="'"$NATIVES"'" POSE_RESULTS_SPEC=tools/gpu/smollm2-rehearsal.yaml POSE_RESULTS_DEADLINE=1500 \
    bash tools/gpu/results.sh' || code=$?
[ "$code" = 0 ] || { echo "rehearse-results.sh: results.sh exited with $code ($ROOT/out/results.log)" >&2; exit 1; }

# what comes back: the document with the section, its figure, the measurements, the log
fail() { echo "rehearse-results.sh: $*" >&2; exit 1; }
for f in results.md smollm2-rehearsal-passkey-yarn.png work.tgz results.log; do
  [ -s "$ROOT/out/$f" ] || fail "$f did not come back"
done
grep -q '<!-- real-model:smollm2-rehearsal:begin -->' "$ROOT/out/results.md" || fail "results.md has no section"
grep -q '<!-- real-model:smollm2-pose-cpu:begin -->' "$ROOT/out/results.md" || fail "results.md lost the CPU section"
grep -q '| full | yarn |' "$ROOT/out/results.md" || fail "results.md has no full-length row"
tar -tzf "$ROOT/out/work.tgz" | grep -q 'full-yarn/eval/results.json' || fail "work.tgz lacks full-yarn's results"
# the trained variants changed the model: their perplexity differs from the untrained one's
ppl() { grep -m1 "^| $1 | yarn |" "$ROOT/out/results.md" | awk -F'|' '{print $(NF-1)}'; }
[ "$(ppl pose)" != "$(ppl none)" ] && [ "$(ppl full)" != "$(ppl none)" ] \
  || fail "pose or full has the untrained model's perplexity ($(ppl pose), $(ppl full), none $(ppl none))"
# the section is written again here from the measurements alone, as it will be from the GPU's
mkdir -p "$ROOT/again" && tar -xzf "$ROOT/out/work.tgz" -C "$ROOT/again"
cp "$ROOT/out/results.md" "$ROOT/again.md"
( cd "$ROOT/repo" && .device-carry/results/jre/bin/java -Dai.djl.offline=true -cp ".device-carry/results/lib/*" \
  io.pose.trainer.tinybase.Results --spec tools/gpu/smollm2-rehearsal.yaml --methods pose,full,none,randpos \
  --work "$ROOT/again" --out "$ROOT/again.md" > "$ROOT/again.log" 2>&1 ) || fail "rewriting from work.tgz failed"
diff <(sed '/^Date:/d' "$ROOT/out/results.md") <(sed '/^Date:/d' "$ROOT/again.md") > /dev/null \
  || fail "the section written from work.tgz differs from the one written there"
echo "rehearsal passed in $(( $(date +%s) - start )) s: $ROOT/out"
sed -n '/real-model:smollm2-rehearsal:begin/,/real-model:smollm2-rehearsal:end/p' "$ROOT/out/results.md" | head -30
