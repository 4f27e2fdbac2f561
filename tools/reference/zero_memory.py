"""DeepSpeed's published ZeRO memory arithmetic, evaluated with DeepSpeed's own code, for MemoryPlanTest.

DeepSpeed's estimators (deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs and
deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs) are pure arithmetic, but importing their
modules needs torch and a CUDA toolchain. This script downloads DeepSpeed's source distribution from PyPI (no
dependencies), takes those two functions out of its files with `ast` and runs them as they are, for the models and
GPU counts the docs quote (total parameters and the largest module's own parameters, counted as DeepSpeed's
model_to_params does, from the Hugging Face configs).

    python3 tools/reference/zero_memory.py > trainer-image/src/test/resources/reference/zero_memory.json

Needs: pip (to download deepspeed==0.19.8, 2 MB). Standard library otherwise.
"""
import ast
import json
import pathlib
import subprocess
import sys
import tarfile
import tempfile

VERSION = "0.19.8"

# name -> (vocab, hidden, intermediate, layers, heads, kv_heads, tied)
MODELS = {
    "mistral-7b": (32000, 4096, 14336, 32, 32, 8, False),
    "llama-2-7b": (32000, 4096, 11008, 32, 32, 32, False),
    "smollm2-135m": (49152, 576, 1536, 30, 9, 3, True),
}


def counts(vocab, hidden, inter, layers, heads, kv_heads, tied):
    head_dim = hidden // heads
    attn = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden
    mlp = 3 * hidden * inter
    norms = 2 * hidden
    total = vocab * hidden + layers * (attn + mlp + norms) + hidden + (0 if tied else vocab * hidden)
    # model_to_params: the module with the most parameters of its own (recurse=False)
    largest = max(vocab * hidden, inter * hidden, hidden * heads * head_dim)
    return total, largest


def load_functions(source_dir):
    names = {
        "deepspeed/runtime/zero/stage_1_and_2.py": "estimate_zero2_model_states_mem_needs",
        "deepspeed/runtime/zero/stage3.py": "estimate_zero3_model_states_mem_needs",
    }
    found = {}
    for path, name in names.items():
        tree = ast.parse((source_dir / path).read_text())
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
        namespace = {}
        exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), namespace)
        found[name] = namespace[name]
    return found


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"deepspeed=={VERSION}", "--no-deps",
                        "--no-binary", ":all:", "-q", "-d", tmp], check=True)
        archive = next(pathlib.Path(tmp).glob("deepspeed-*.tar.gz"))
        with tarfile.open(archive) as t:
            t.extractall(tmp, filter="data")
        functions = load_functions(pathlib.Path(tmp) / f"deepspeed-{VERSION}")
    zero2 = functions["estimate_zero2_model_states_mem_needs"]
    zero3 = functions["estimate_zero3_model_states_mem_needs"]
    cases = []
    for model, shape in MODELS.items():
        total, largest = counts(*shape)
        for gpus, nodes in [(8, 1), (8, 2), (4, 1)]:
            _, gpu2 = zero2(total, num_gpus_per_node=gpus, num_nodes=nodes, cpu_offload=False)
            _, gpu3, _ = zero3(total, largest, num_gpus_per_node=gpus, num_nodes=nodes, cpu_offload=False)
            cases.append({"model": model, "totalParams": total, "largestLayerParams": largest,
                          "gpusPerNode": gpus, "nodes": nodes, "zero2GpuBytes": gpu2, "zero3GpuBytes": gpu3})
    json.dump({"deepspeed": VERSION, "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
