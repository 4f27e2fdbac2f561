#!/usr/bin/env python3
"""A few optimizer steps of torch.optim.AdamW with global-norm clipping on the tiny Llama, for the Java optimizer's
parity test: per step the loss before the update and the global gradient norm before clipping, and at the end a few
weights and their Adam moments.

Fixed batches with PoSE-style positions; lr 3e-3 with 2 warmup steps (transformers' linear warmup: step / warmup, so 0
at the first step), betas
(0.9, 0.95), eps 1e-8, weight decay 0.1 (decoupled, all parameters), max grad norm 0.5 (so clipping happens).

    /tmp/pyref/bin/python tools/reference/train_steps.py
"""
import json
import pathlib

import torch
from transformers import LlamaForCausalLM

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "trainer-image/src/test/resources/tiny-models/llama"
OUT = ROOT / "trainer-image/src/test/resources/tiny-models/llama/train_steps.json"

LR, BETAS, EPS, WD, MAX_NORM, STEPS, WARMUP = 3e-3, (0.9, 0.95), 1e-8, 0.1, 0.5, 7, 2
BATCHES = [
    ([[1, 17, 42, 5, 99, 3, 77, 60], [1, 64, 2, 127, 31, 8, 8, 45]], [[0, 1, 2, 40, 41, 42, 43, 44], [0, 1, 2, 3, 4, 5, 90, 91]]),
    ([[1, 5, 6, 7, 8, 9, 10, 11], [1, 120, 110, 100, 90, 80, 70, 60]], [[0, 1, 2, 3, 4, 5, 6, 7], [0, 60, 61, 62, 63, 64, 65, 66]]),
]
WATCHED = ["model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight"]


def lr_at(step):
    """transformers' get_constant_schedule_with_warmup: step / warmup during warmup (step counted from 0)."""
    return LR * step / WARMUP if step < WARMUP else LR


def main():
    model = LlamaForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32, attn_implementation="eager")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    steps = []
    for step in range(STEPS):
        ids, pos = BATCHES[step % len(BATCHES)]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.zero_grad()
        ids_t = torch.tensor(ids)
        loss = model(input_ids=ids_t, position_ids=torch.tensor(pos), labels=ids_t).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        opt.step()
        steps.append({"loss": loss.item(), "gradNorm": norm.item(), "lr": lr_at(step)})
    params = dict(model.named_parameters())
    watched = {}
    for name in WATCHED:
        state = opt.state[params[name]]
        watched[name] = {"value": [float("%.9g" % v) for v in params[name].detach().flatten().tolist()],
                         "expAvg": [float("%.9g" % v) for v in state["exp_avg"].flatten().tolist()],
                         "expAvgSq": [float("%.9g" % v) for v in state["exp_avg_sq"].flatten().tolist()]}
    OUT.write_text(json.dumps({"lr": LR, "betas": BETAS, "eps": EPS, "weightDecay": WD, "maxGradNorm": MAX_NORM,
                               "warmupSteps": WARMUP, "batches": BATCHES, "steps": steps, "watched": watched}) + "\n")
    print([round(s["loss"], 5) for s in steps], [round(s["gradNorm"], 4) for s in steps])


if __name__ == "__main__":
    main()
