#!/usr/bin/env python3
"""Reference safetensors files written by the safetensors library itself, for the trainer's SafetensorsTest.

Writes into trainer-image/src/test/resources/safetensors/:
  mixed.safetensors      F32, F16, BF16, I64, I32, U8 and BOOL tensors (incl. a scalar and an empty tensor)
                         plus __metadata__
  sharded/               a model split into two shards with model.safetensors.index.json, as
                         transformers' save_pretrained writes it (shard names model-0000k-of-00002.safetensors)
  expected.json          every tensor's dtype, shape and values (as float64 / int) for the Java test, and
                         fp32 -> bf16 / fp16 conversions as torch rounds them (halfway cases, subnormals,
                         overflow, NaN)

    /tmp/pyref/bin/python tools/reference/safetensors_files.py
"""
import json
import pathlib
import sys

import torch
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "trainer-image/src/test/resources/safetensors"


def tensors():
    g = torch.Generator().manual_seed(1234)
    return {
        "model.embed_tokens.weight": torch.randn(7, 4, generator=g, dtype=torch.float32),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(4, 4, generator=g).to(torch.float16),
        "model.layers.0.mlp.up_proj.weight": torch.randn(6, 4, generator=g).to(torch.bfloat16),
        "model.norm.weight": torch.tensor([1.0, -2.5, 3.25, 65504.0], dtype=torch.float32),
        "position_ids": torch.arange(5, dtype=torch.int64) * 100000000000,
        "counts": torch.tensor([[1, -2], [3, 2147483647]], dtype=torch.int32),
        "bytes": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "bf16.special": torch.tensor([0.0, -0.0, 1e-40, 3.0e38, float("inf"), 1.0 / 3.0], dtype=torch.bfloat16),
    }


def conversions():
    """fp32 bit patterns and their bf16 / fp16 bits as torch rounds them (round to nearest, ties to even)."""
    g = torch.Generator().manual_seed(99)
    values = torch.cat([torch.randn(200, generator=g) * 3, torch.randn(50, generator=g) * 1e-6,
                        torch.randn(50, generator=g) * 1e5])
    specials = torch.tensor([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 1e5, 6.1e-5, 5.96e-8, 2.98e-8, 1e-10,
                             float("inf"), float("-inf"), 3.4e38, 1.00390625, 1.01171875, 1.0 + 2 ** -9,
                             1.0 + 3 * 2 ** -9, 2049.0, 2051.0])
    x = torch.cat([values, specials]).to(torch.float32)
    nan = torch.tensor([float("nan")], dtype=torch.float32)
    return {
        "f32_bits": x.view(torch.int32).tolist(),
        "bf16_bits": x.to(torch.bfloat16).view(torch.int16).tolist(),
        "f16_bits": x.to(torch.float16).view(torch.int16).tolist(),
        "nan_bf16_is_nan": bool(torch.isnan(nan.to(torch.bfloat16)).item()),
    }


def describe(ts):
    out = {}
    for name, t in ts.items():
        values = t.to(torch.float64).flatten().tolist() if t.is_floating_point() else t.to(torch.int64).flatten().tolist()
        out[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values}
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    ts = tensors()
    save_file(ts, str(OUT / "mixed.safetensors"), metadata={"format": "pt", "note": "pose reference"})
    shard_dir = OUT / "sharded"
    shard_dir.mkdir(exist_ok=True)
    names = sorted(k for k in ts if k.startswith("model."))
    shards = [names[:2], names[2:]]
    weight_map, total = {}, 0
    for i, group in enumerate(shards, start=1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: ts[k] for k in group}, str(shard_dir / file), metadata={"format": "pt"})
        for k in group:
            weight_map[k] = file
            total += ts[k].numel() * ts[k].element_size()
    (shard_dir / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    expected = describe(ts)
    expected["__conversions__"] = conversions()
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
