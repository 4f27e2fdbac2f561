#!/usr/bin/env python3
"""Loads the model directory the Java trainer exported (trainer-image/src/test/resources/tiny-models/exported-llama-yarn,
written by ModelExportTest with -Dpose.updateFixtures=true) with transformers' AutoModelForCausalLM and records what
it computes for fixed token ids at PoSE positions beyond the original window: ModelExportTest requires the Java decoder,
reading the same directory, to compute the same logits. Also records how transformers read the config.

    /tmp/pyref/bin/python tools/reference/check_exported_model.py
"""
import json
import pathlib

import torch
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "trainer-image/src/test/resources/tiny-models/exported-llama-yarn"
IDS = [[1, 17, 42, 5, 99, 3, 77, 60, 11, 23, 90, 8], [1, 64, 2, 127, 31, 8, 8, 45, 19, 100, 7, 33]]
POSITIONS = [[0, 1, 2, 3, 4, 230, 231, 232, 233, 234, 235, 236], [0, 1, 2, 150, 151, 152, 153, 154, 155, 156, 157, 158]]


def main():
    config = AutoConfig.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(IDS), position_ids=torch.tensor(POSITIONS)).logits
    out = {"ropeParameters": config.rope_parameters, "maxPositionEmbeddings": config.max_position_embeddings,
           "ids": IDS, "positions": POSITIONS, "logitsShape": list(logits.shape),
           "logits": [float("%.9g" % v) for v in logits.flatten().tolist()]}
    (MODEL.parent / "exported-llama-yarn-check.json").write_text(json.dumps(out) + "\n")
    print(config.rope_parameters, config.max_position_embeddings)


if __name__ == "__main__":
    main()
