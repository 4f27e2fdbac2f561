#!/usr/bin/env python3
"""Turns a Llama-family checkpoint you already have into the directory `pose fetch` takes.

    import_checkpoint.py SOURCE OUT [--gguf-file NAME] [--dtype float32|bfloat16]

SOURCE is a Hugging Face model directory (safetensors or pytorch_model.bin, any tokenizer transformers can load) or
a GGUF file (llama.cpp's format; quantized tensors are dequantized). OUT must not exist yet; it receives
config.json, model.safetensors (sharded above 5 GB, with its index), tokenizer.json and generation_config.json, as
transformers writes them, and is moved into place only once complete. The result is checked before it is moved:
it is reloaded, and its logits on a fixed prompt must match the source model's.

Needs torch, transformers, safetensors, accelerate, and gguf for a GGUF source (tools/models/README.md).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUPPORTED = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}
PROMPT = "The grass is green. The sky is blue. The sun is yellow. The pass key is 71432. Remember it."


def fail(message):
    print(f"import_checkpoint: {message}", file=sys.stderr)
    sys.exit(2)


def load(source, gguf_file, dtype):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"dtype": getattr(torch, dtype)}
    if gguf_file is not None:
        directory, name = os.path.split(os.path.abspath(gguf_file))
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, **kwargs)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    architecture = type(model).__name__
    if architecture not in SUPPORTED:
        fail(f"{source}: architecture {architecture} is not one pose trains ({', '.join(sorted(SUPPORTED))})")
    if not tokenizer.is_fast:
        fail(f"{source}: transformers has no fast tokenizer for it, so no tokenizer.json can be written")
    return model, tokenizer


def publishable(directory):
    """The permissions a directory made by hand would have (mkdtemp and safetensors make them owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)
    for name in os.listdir(directory):
        os.chmod(os.path.join(directory, name), 0o666 & ~umask)


def write(model, tokenizer, staging):
    # a GGUF model counts as quantized and save_pretrained refuses it; the weights are plain dequantized tensors
    for holder in (model, model.config):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    if hasattr(model, "hf_quantizer"):
        model.hf_quantizer = None
    model.is_quantized = False
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    config_path = os.path.join(staging, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config.pop("quantization_config", None)
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    if not os.path.exists(os.path.join(staging, "tokenizer.json")):
        fail("the tokenizer wrote no tokenizer.json")


def check(model, tokenizer, staging, dtype):
    import torch
    from transformers import AutoModelForCausalLM

    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    reloaded = AutoModelForCausalLM.from_pretrained(staging, dtype=getattr(torch, dtype))
    with torch.no_grad():
        want = model(ids).logits
        got = reloaded(ids).logits
    difference = (want - got).abs().max().item()
    if difference > 1e-4:
        fail(f"the written model's logits differ from the source's by {difference:.3g} (allowed 1e-4)")
    return difference, ids.shape[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="a Hugging Face model directory, or a .gguf file")
    p.add_argument("out", help="the directory to create")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="the dtype of the written weights (default float32, what pose's fp32 and autocast runs keep "
                        "as master weights)")
    a = p.parse_args()
    if not os.path.exists(a.source):
        fail(f"{a.source}: no such file or directory")
    if os.path.exists(a.out):
        fail(f"{a.out}: already exists; choose a new directory (nothing is overwritten)")
    gguf_file = a.source if os.path.isfile(a.source) else None
    if gguf_file is not None and not a.source.endswith(".gguf"):
        fail(f"{a.source}: a file must be a GGUF file (.gguf); a Hugging Face model is a directory")
    model, tokenizer = load(a.source, gguf_file, a.dtype)
    parent = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".import-", dir=parent)
    try:
        write(model, tokenizer, staging)
        difference, tokens = check(model, tokenizer, staging, a.dtype)
        publishable(staging)
        os.rename(staging, a.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    c = model.config
    parameters = sum(t.numel() for t in model.parameters())
    print(f"wrote {a.out}: {type(model).__name__}, {parameters:,} parameters, {c.num_hidden_layers} layers, "
          f"hidden {c.hidden_size}, {c.num_attention_heads} heads / {c.num_key_value_heads} KV heads, "
          f"vocabulary {c.vocab_size}, context {c.max_position_embeddings}")
    print(f"checked: reloaded logits on a {tokens}-token prompt within {difference:.2g} of the source's")
    print("use it in a spec as:")
    print(f"  model:\n    source: file://{os.path.abspath(a.out)}\n"
          f"    originalContextLength: {c.max_position_embeddings}")


if __name__ == "__main__":
    main()
