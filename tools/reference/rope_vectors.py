#!/usr/bin/env python3
"""Golden RoPE vectors from Hugging Face transformers itself, for pose-core's RopeReferenceTest.

For every case of a grid (head dims 64/96/128, bases 1e4/5e5/1e6, factors 2..64, original lengths 2k..32k, every
RoPE type and option), calls transformers' own init function (ROPE_INIT_FUNCTIONS[type], or the Llama rotary
module's default) and records the inverse frequencies and the attention scaling. For a subset, runs the rotary
module's forward pass (including transformers' dynamic/longrope update) at positions up to 131071 and records cos
and sin (the first half of the head dimension; emb = concat(freqs, freqs) repeats it).

    python3 tools/reference/rope_vectors.py > pose-core/src/test/resources/reference/rope_vectors.json

Needs torch and transformers (see tools/reference/README.md).
"""
import json
import math
import sys

import torch
import transformers
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

HEADS = 4
COS_SIN_POSITIONS = [0, 1, 2, 17, 1000, 4095, 4096, 8191, 16383, 32767, 65535, 100000, 131071]


def config_for(p):
    rope = {"rope_type": p["type"], "rope_theta": p["theta"]}
    for key, name in [("factor", "factor"), ("originalMaxPositionEmbeddings", "original_max_position_embeddings"),
                      ("attentionFactor", "attention_factor"), ("betaFast", "beta_fast"), ("betaSlow", "beta_slow"),
                      ("mscale", "mscale"), ("mscaleAllDim", "mscale_all_dim"), ("truncate", "truncate"),
                      ("lowFreqFactor", "low_freq_factor"), ("highFreqFactor", "high_freq_factor"),
                      ("shortFactor", "short_factor"), ("longFactor", "long_factor"),
                      ("partialRotaryFactor", "partial_rotary_factor")]:
        if p.get(key) is not None:
            rope[name] = p[key]
    cfg = LlamaConfig(hidden_size=p["headDim"] * HEADS, num_attention_heads=HEADS, num_key_value_heads=HEADS,
                      head_dim=p["headDim"], max_position_embeddings=p["maxPositionEmbeddings"],
                      intermediate_size=16, num_hidden_layers=1, vocab_size=16, rope_parameters=rope)
    return cfg


def init(p, seq_len):
    cfg = config_for(p)
    if p["type"] == "default":
        inv, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(cfg)
    else:
        inv, scale = ROPE_INIT_FUNCTIONS[p["type"]](cfg, "cpu", seq_len=seq_len)
    return inv, float(scale)


def floats(t):
    return [float(x) for x in t.to(torch.float32).tolist()]


def params(type_, theta, head_dim, max_pos, **kw):
    p = {"type": type_, "theta": float(theta), "headDim": head_dim, "maxPositionEmbeddings": max_pos,
         "partialRotaryFactor": None}
    p.update(kw)
    return p


def grid():
    cases = []
    for hd in (64, 128):
        for theta in (1e4, 5e5, 1e6):
            cases.append((f"default hd{hd} theta{theta:g}", params("default", theta, hd, 4096), None))
            for f in (2, 4, 8, 16, 32, 64):
                cases.append((f"linear hd{hd} theta{theta:g} x{f}", params("linear", theta, hd, 4096 * f, factor=float(f)), None))
            for orig in (2048, 4096, 8192, 16384, 32768):
                for f in (2, 4, 8, 16, 64):
                    cases.append((f"yarn hd{hd} theta{theta:g} orig{orig} x{f}",
                                  params("yarn", theta, hd, orig * f, factor=float(f), originalMaxPositionEmbeddings=orig), None))
    for max_pos in (2048, 4096, 8192):
        for f in (2, 4, 8):
            for seq in (None, max_pos, 2 * max_pos, 4 * max_pos + 17):
                cases.append((f"dynamic maxpos{max_pos} x{f} seq{seq}",
                              params("dynamic", 1e4, 128, max_pos, factor=float(f)), seq))
    y = dict(factor=4.0, originalMaxPositionEmbeddings=8192)
    cases += [
        ("yarn beta 16/2", params("yarn", 1e4, 128, 32768, betaFast=16.0, betaSlow=2.0, **y), None),
        ("yarn no truncate", params("yarn", 1e4, 128, 32768, truncate=False, **y), None),
        ("yarn no truncate theta1e6 orig32768", params("yarn", 1e6, 128, 131072, factor=4.0, truncate=False,
                                                         originalMaxPositionEmbeddings=32768), None),
        ("yarn attention factor", params("yarn", 1e4, 128, 32768, attentionFactor=0.8, **y), None),
        ("yarn mscale 0.707/1", params("yarn", 1e4, 128, 32768, mscale=0.707, mscaleAllDim=1.0, **y), None),
        ("yarn mscale 1/1", params("yarn", 1e4, 128, 32768, mscale=1.0, mscaleAllDim=1.0, **y), None),
        ("yarn mscale only", params("yarn", 1e4, 128, 32768, mscale=1.0, **y), None),
        ("yarn factor 1", params("yarn", 1e4, 128, 8192, factor=1.0, originalMaxPositionEmbeddings=8192), None),
        ("llama3.1", params("llama3", 5e5, 128, 131072, factor=8.0, lowFreqFactor=1.0, highFreqFactor=4.0,
                            originalMaxPositionEmbeddings=8192), None),
        ("llama3.2 x32", params("llama3", 5e5, 64, 131072, factor=32.0, lowFreqFactor=1.0, highFreqFactor=4.0,
                                originalMaxPositionEmbeddings=8192), None),
        ("llama3 theta1e4 2/8", params("llama3", 1e4, 128, 65536, factor=16.0, lowFreqFactor=2.0, highFreqFactor=8.0,
                                       originalMaxPositionEmbeddings=4096), None),
    ]
    cases += edges()
    for prf in (0.5, 0.25):
        cases += [
            (f"linear partial{prf}", params("linear", 1e4, 128, 16384, factor=4.0, partialRotaryFactor=prf), None),
            (f"yarn partial{prf}", params("yarn", 1e4, 128, 32768, partialRotaryFactor=prf, **y), None),
            (f"dynamic partial{prf}", params("dynamic", 1e4, 128, 4096, factor=4.0, partialRotaryFactor=prf), 10000),
        ]
    short = [1.0 + 0.01 * i for i in range(48)]
    long_ = [1.0 + 0.25 * i for i in range(48)]
    lr = dict(shortFactor=short, longFactor=long_, originalMaxPositionEmbeddings=4096)
    cases += [
        ("longrope short", params("longrope", 1e4, 96, 131072, **lr), None),
        ("longrope at the original length", params("longrope", 1e4, 96, 131072, **lr), 4096),
        ("longrope long", params("longrope", 1e4, 96, 131072, **lr), 4097),
        ("longrope factor 8", params("longrope", 1e4, 96, 131072, factor=8.0, **lr), 4097),
        ("longrope attention factor", params("longrope", 1e4, 96, 131072, attentionFactor=1.2, **lr), 4097),
    ]
    return cases


def edges():
    """The boundaries of each rule, where a comparison's "<" against "<=" decides (docs/quality.md)."""
    y = dict(factor=4.0, originalMaxPositionEmbeddings=8192)
    cases = [
        # the correction range's upper end beyond dim - 1 while its lower end is inside the dimensions: clamped
        ("yarn high clamped beta_slow 1e-6", params("yarn", 1e4, 128, 32768, betaSlow=1e-6, **y), None),
        # beta_fast = beta_slow without truncation: low == high, which transformers widens by 0.001
        ("yarn low equals high", params("yarn", 1e4, 128, 32768, betaFast=8.0, betaSlow=8.0, truncate=False, **y),
         None),
    ]
    # llama3 with a wavelength exactly at the low-frequency bound (in fp32, as both compare): the low band's
    # inv / factor and the medium band's start meet there
    theta, hd, old = 5e5, 128, 8192
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(dtype=torch.float) / hd))
    wavelen = 2 * math.pi / inv
    i = 40
    low = old / float(wavelen[i])
    tie = torch.tensor([old / low], dtype=torch.float32)
    assert bool(tie[0] == wavelen[i]), "no fp32 tie at the low-frequency bound"
    cases.append(("llama3 tie at the low-frequency bound", params("llama3", theta, hd, 131072, factor=8.0,
                                                                lowFreqFactor=low, highFreqFactor=4.0,
                                                                originalMaxPositionEmbeddings=old), None))
    return cases


COS_SIN_CASES = ["default hd128 theta10000", "linear hd128 theta10000 x4", "yarn hd128 theta10000 orig8192 x4",
                 "yarn hd128 theta1e+06 orig32768 x4", "llama3.1", "dynamic maxpos8192 x4 seqNone",
                 "longrope short", "yarn hd64 theta500000 orig2048 x64"]


def cos_sin(p):
    cfg = config_for(p)
    module = LlamaRotaryEmbedding(cfg)
    positions = torch.tensor([COS_SIN_POSITIONS], dtype=torch.long)
    x = torch.zeros(1, dtype=torch.float32)
    cos, sin = module(x, positions)
    half = cos.shape[-1] // 2
    return ([floats(row[:half]) for row in cos[0]], [floats(row[:half]) for row in sin[0]])


def main():
    out = {"generator": "tools/reference/rope_vectors.py", "transformers": transformers.__version__,
           "torch": torch.__version__, "cases": [], "cosSin": []}
    by_name = {}
    for name, p, seq in grid():
        inv, scale = init(p, seq)
        out["cases"].append({"name": name, "params": p, "seqLen": seq, "invFreq": floats(inv), "attentionScaling": scale})
        by_name[name] = p
    for name in COS_SIN_CASES:
        cos, sin = cos_sin(by_name[name])
        out["cosSin"].append({"case": name, "params": by_name[name], "positions": COS_SIN_POSITIONS,
                              "cosHalf": cos, "sinHalf": sin})
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
