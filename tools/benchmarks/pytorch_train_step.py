"""PyTorch eager + transformers: the training step the Java trainer's benchmark compares itself with.

Loads the model directory the Java benchmark wrote (config.json + model.safetensors, fp32), then times, for the same
ids and position ids (inputs.json, written by the Java side), what one optimizer step of the Hugging Face recipe
costs: forward with labels (causal LM loss), backward, global-norm clipping at 1.0, torch.optim.AdamW, zero_grad.
Prints one JSON object: the seconds of every step and the process's peak resident memory.

    python tools/benchmarks/pytorch_train_step.py --model DIR --inputs FILE --threads N

Called by trainer-image/src/test/java/io/pose/trainer/bench/TrainerBenchmark.java; needs torch and transformers.
"""
import argparse
import json
import resource
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--gradient-checkpointing", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa")
    if a.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    with open(a.inputs) as f:
        steps = json.load(f)["steps"]
    seconds = []
    for s in steps:
        ids = torch.tensor(s["ids"], dtype=torch.long)
        positions = torch.tensor(s["positions"], dtype=torch.long)
        t0 = time.perf_counter()
        out = model(input_ids=ids, position_ids=positions, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({"stepSeconds": seconds, "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
