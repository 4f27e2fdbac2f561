#!/usr/bin/env python3
"""Loads every extended config.json the Java writer produced (pose-core/src/test/resources/reference/extended/)
with Hugging Face transformers and records the RoPE it computes from it: the rotary module's inverse frequencies
and attention scaling at initialization, and for dynamic NTK also after a forward pass over a sequence of the
target length. pose-core's ExtendedConfigFrequenciesTest requires Java to compute the same from the same file:
the published model is read exactly as it was trained.

    python3 tools/reference/extended_config_check.py \
        > pose-core/src/test/resources/reference/extended_frequencies.json
"""
import io
import json
import logging
import pathlib
import sys

import torch
import transformers
from transformers import CONFIG_MAPPING
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.mistral.modeling_mistral import MistralRotaryEmbedding
from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXTENDED = ROOT / "pose-core/src/test/resources/reference/extended"
ROTARY = {"llama": LlamaRotaryEmbedding, "mistral": MistralRotaryEmbedding, "qwen2": Qwen2RotaryEmbedding}


def floats(t):
    return [float(x) for x in t.to(torch.float32).tolist()]


def main():
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    transformers.logging.get_logger().addHandler(handler)
    out = {"generator": "tools/reference/extended_config_check.py", "transformers": transformers.__version__,
           "cases": {}}
    for path in sorted(EXTENDED.glob("*.json")):
        raw = json.loads(path.read_text())
        log.truncate(0)
        log.seek(0)
        config = CONFIG_MAPPING[raw["model_type"]].from_dict(raw)
        module = ROTARY[raw["model_type"]](config)
        case = {"ropeType": config.rope_parameters["rope_type"], "maxPositionEmbeddings": config.max_position_embeddings,
                "invFreq": floats(module.inv_freq), "attentionScaling": float(module.attention_scaling),
                "slidingWindow": getattr(config, "sliding_window", None)}
        target = raw["pose_extension"]["target_context_length"]
        if "dynamic" in case["ropeType"]:
            x = torch.zeros(1, dtype=torch.float32)
            module(x, torch.tensor([[0, target - 1]]))
            case["dynamicAtTarget"] = {"sequenceLength": target, "invFreq": floats(module.inv_freq)}
        case["warnings"] = [line for line in log.getvalue().splitlines() if line.strip()]
        out["cases"][path.stem] = case
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
