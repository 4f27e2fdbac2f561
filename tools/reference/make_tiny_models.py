#!/usr/bin/env python3
"""Tiny random Llama and Mistral models and what transformers computes with them, for the Java model's parity tests.

For each model, writes trainer-image/src/test/resources/tiny-models/<name>/ with config.json and model.safetensors
(fp32, save_pretrained), and reference.json with, for fixed token ids and two sets of position ids (plain 0..n-1
and PoSE-style skipped positions far beyond the original window): the logits, the loss (labels = ids, shifted
inside the model as in training) and the gradients of a few named weights.

Models: llama (MHA), llama-gqa-tied (grouped-query heads, tied embeddings), llama-yarn (YaRN x4),
mistral-swa (GQA and a sliding window shorter than the sequence), llama-dynamic (dynamic NTK x4: the base grows
with the largest position of the batch, so the PoSE positions run at a scaled base and the plain ones do not). Eager attention in fp32, so that the reference
is the plain formula.

    /tmp/pyref/bin/python tools/reference/make_tiny_models.py [name ...]   (all models when no name is given)
"""
import json
import pathlib
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "trainer-image/src/test/resources/tiny-models"

COMMON = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, attn_implementation="eager",
              # large weights make attention sharp, so that position ids (and a RoPE mistake) change the output
              initializer_range=0.35)

MODELS = {
    "llama": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=4, max_position_embeddings=64)),
    "llama-gqa-tied": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=2, max_position_embeddings=64,
                                                           tie_word_embeddings=True)),
    "llama-yarn": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=2, max_position_embeddings=256,
                                                       rope_parameters={"rope_type": "yarn", "factor": 4.0,
                                                                        "original_max_position_embeddings": 64,
                                                                        "rope_theta": 10000.0})),
    "mistral-swa": (MistralConfig, MistralForCausalLM, dict(num_key_value_heads=1, max_position_embeddings=64,
                                                            sliding_window=6, rope_theta=10000.0)),
    "llama-dynamic": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=2, max_position_embeddings=64,
                                                          rope_parameters={"rope_type": "dynamic", "factor": 4.0,
                                                                           "rope_theta": 10000.0})),
}

IDS = [[1, 17, 42, 5, 99, 3, 77, 60, 11, 23, 90, 8], [1, 64, 2, 127, 31, 8, 8, 45, 19, 100, 7, 33]]
PLAIN = [list(range(12)), list(range(12))]
# PoSE: two chunks, the second skipped far beyond the 64-position window (the yarn model's target is 256)
POSE = [[0, 1, 2, 3, 4, 180, 181, 182, 183, 184, 185, 186], [0, 1, 2, 150, 151, 152, 153, 154, 155, 156, 157, 158]]
GRADIENTS = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
             "model.layers.1.mlp.down_proj.weight", "model.layers.1.input_layernorm.weight", "model.norm.weight",
             "lm_head.weight"]


def f32(values):
    """float32 values with the digits that identify them (9 significant), to keep the files small."""
    return [float("%.9g" % v) for v in values]


def run(model, positions):
    model.zero_grad()
    ids = torch.tensor(IDS)
    out = model(input_ids=ids, position_ids=torch.tensor(positions), labels=ids)
    out.loss.backward()
    grads = {}
    params = dict(model.named_parameters())
    for name in GRADIENTS:
        p = params.get(name)
        if p is None:  # tied lm_head
            continue
        grads[name] = {"shape": list(p.grad.shape), "values": f32(p.grad.flatten().tolist())}
    return {"positions": positions, "loss": out.loss.item(), "logitsShape": list(out.logits.shape),
            "logits": f32(out.logits.detach().flatten().tolist()), "gradients": grads}


def main():
    names = sys.argv[1:] or list(MODELS)
    for name in names:
        config_type, model_type, extra = MODELS[name]
        torch.manual_seed(len(name) * 1000 + 7)
        config = config_type(**COMMON, **extra)
        model = model_type(config).to(torch.float32)
        with torch.no_grad():  # norms away from 1 so a missing weight shows
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.add_(torch.randn_like(p) * 0.1)
        directory = OUT / name
        model.save_pretrained(directory, safe_serialization=True)
        reference = {"model": name, "ids": IDS, "plain": run(model, PLAIN), "pose": run(model, POSE)}
        (directory / "reference.json").write_text(json.dumps(reference) + "\n")
        print(name, sum(p.numel() for p in model.parameters()), "parameters, loss", reference["plain"]["loss"],
              reference["pose"]["loss"])


if __name__ == "__main__":
    main()
