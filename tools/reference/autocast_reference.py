"""What transformers computes under mixed precision, for the Java decoder's bf16 and fp16 parity tests.

For each tiny model of make_tiny_models.py, loads its fp32 weights with SDPA attention and runs, under
torch.autocast("cpu", dtype=bf16 or fp16), the same ids and the same plain and PoSE position ids: the logits
(upcast to fp32 as the loss does), the loss and the fp32 master weights' gradients. Autocast runs linear layers and
attention in the low precision, keeps the embedding, RMSNorm, residual stream and loss in fp32 and lets rotary
embedding promote to fp32: the semantics spec.training.precision asks of the Java trainer.

Writes trainer-image/src/test/resources/tiny-models/<name>/reference_autocast.json.

    /work/pyref/bin/python tools/reference/autocast_reference.py
"""
import json
import pathlib

import torch
from transformers import AutoModelForCausalLM

from make_tiny_models import GRADIENTS, IDS, MODELS, OUT, PLAIN, POSE, f32


def run(model, positions, dtype):
    model.zero_grad()
    ids = torch.tensor(IDS)
    with torch.autocast("cpu", dtype=dtype):
        out = model(input_ids=ids, position_ids=torch.tensor(positions), labels=ids)
    out.loss.backward()
    params = dict(model.named_parameters())
    grads = {}
    for name in GRADIENTS:
        p = params.get(name)
        if p is None:  # tied lm_head
            continue
        grads[name] = {"shape": list(p.grad.shape), "values": f32(p.grad.flatten().tolist())}
    return {"positions": positions, "loss": out.loss.item(), "logitsShape": list(out.logits.shape),
            "logitsDtype": str(out.logits.dtype), "logits": f32(out.logits.detach().float().flatten().tolist()),
            "gradients": grads}


def main():
    torch.set_num_threads(1)
    for name in MODELS:
        directory = OUT / name
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="sdpa")
        reference = {"model": name, "ids": IDS, "torch": torch.__version__}
        for label, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            reference[label] = {"plain": run(model, PLAIN, dtype), "pose": run(model, POSE, dtype)}
        (directory / "reference_autocast.json").write_text(json.dumps(reference) + "\n")
        print(name, {k: (reference[k]["plain"]["loss"], reference[k]["pose"]["loss"]) for k in ("bf16", "fp16")})


if __name__ == "__main__":
    main()
