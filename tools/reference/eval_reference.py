#!/usr/bin/env python3
"""Reference vectors for the evaluation code (perplexity, greedy decoding, passkey prompts) on the tiny models.

Writes trainer-image/src/test/resources/eval/reference_eval.json with:

  * "perplexity": the official PoSE rule (dwzhu-pku/PoSE, src/eval_ppl.py, compute_perplexity) reproduced
    line by line on the tiny models: max_tokenized_len = W - 1 (room for <s>); in truncate mode every document is
    cut to its first W - 1 tokens and the stride becomes W - 1; per window input = [<s>] + doc[begin:end], labels =
    the input with labels[:-trg_len] = -100, loss = model(input, labels=labels).loss (transformers shifts the labels
    inside), nll = loss * trg_len (fp32, as in the official code), total_nll accumulated in float64 over ALL
    documents of a case, count += trg_len, perplexity = float(exp(total_nll / count).float()). Each window also
    records "meanOver", the number of labels the mean really ran over: it is trg_len, except where trg_len equals
    the whole input (stride >= W, and the last window of a stride-W walk), where the shift leaves trg_len - 1
    labels but the official code still multiplies by trg_len and counts trg_len tokens.
  * "generation": model.generate(ids, max_new_tokens=10, do_sample=False, num_beams=1, eos_token_id=2,
    pad_token_id=0) (greedy, key/value cache), per model on pseudo-random prompts, plus text prompts for the tiny
    Llama encoded with its tokenizer.json (no post-processor: no <s> is added); the fp32 logits of the last
    prompt position (first decoding step) are recorded to diagnose a mismatch.
  * "passkeyPrompts": the official passkey prompt (dwzhu-pku/PoSE, src/eval_passkey.py, generate_prompt) with
    its random parts (prefix count, pass key) given explicitly: "prompt" (the text), "ids" (plain encode with the
    tiny tokenizer) and the tiny Llama's greedy answer as in "generation" ("newIds", decoded "text", "digits" =
    the first run of digits or null).

The tiny tokenizer (128 tokens, trained on a few sentences, no unk token) silently drops every character it never
saw: newlines, the digits 0 6 7 8 9, most capitals, f j q v x z and most punctuation. So the passkey ids hold
"411" for the key 4711 and "5" for 50000, and no newline anywhere; the Java tokenizer (same Rust library) must
drop the same characters.

Checks made before writing (the script fails otherwise): every generate() output equals a greedy loop without
cache (full forward each step, argmax, stop at EOS), and generate()'s first-step logits equal the recorded ones;
every window loss equals a manual log_softmax computation on the window's logits; the perplexity equals a
recomputation from the recorded windows.

Eager attention, fp32, CPU, eval mode, no_grad; deterministic (fixed generator seeds). Takes a few seconds:

    /work/pyref/bin/python tools/reference/eval_reference.py
"""
import json
import math
import pathlib
import re

import tokenizers
import torch
import transformers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "trainer-image/src/test/resources/tiny-models"
OUT = ROOT / "trainer-image/src/test/resources/eval/reference_eval.json"

BOS, EOS, PAD = 1, 2, 0
MAX_NEW_TOKENS = 10

# (model, W, stride, mode, seed); two documents per case, of lengths DOC_LENGTHS
PPL_CASES = [
    ("llama", 16, 5, "slidingWindow", 101),
    ("llama", 16, None, "truncate", 102),
    ("mistral-swa", 16, 7, "slidingWindow", 103),
    ("llama-yarn", 40, 9, "slidingWindow", 104),
    ("llama-gqa-tied", 12, 12, "slidingWindow", 105),
]
DOC_LENGTHS = [37, 50]

# (model, prompt lengths, seed)
GEN_CASES = [
    ("llama", [20, 45], 201),
    ("llama-gqa-tied", [20, 45], 202),
    ("mistral-swa", [20, 45], 203),
    ("llama-yarn", [20, 90], 204),
]
TEXT_PROMPTS = [
    "The pass key is 12345. Remember it. 12345 is the pass key.\nWhat is the pass key? The pass key is",
    "The grass is green. The sky is blue. The sun is",
    "What is the pass key? The pass key is",
]

# (L, prefix count x, key K)
PASSKEY_CASES = [(200, 0, 4711), (300, 3, 50000), (180, 4, 1), (80, 0, 123)]
TASK_DESCRIPTION = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                    "I will quiz you about the important information there.")
GARBAGE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
FINAL_QUESTION = "What is the pass key? The pass key is"


def f32(values):
    """float32 values with the digits that identify them (9 significant), to keep the files small."""
    return [float("%.9g" % v) for v in values]


def random_ids(generator, n):
    return torch.randint(3, 128, (n,), generator=generator).tolist()


def load(name):
    model = AutoModelForCausalLM.from_pretrained(MODELS / name, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    assert not model.generation_config.do_sample, model.generation_config
    return model


# ---------------------------------------------------------------------------------------------------------------
# perplexity: dwzhu-pku/PoSE src/eval_ppl.py compute_perplexity, add_start_token=True, batch of one document
# ---------------------------------------------------------------------------------------------------------------

def manual_window_loss(logits, labels):
    """Mean negative log-likelihood of the shifted labels that are not -100, from log_softmax (float64)."""
    logp = torch.log_softmax(logits[0, :-1].double(), dim=-1)
    target = labels[0, 1:]
    keep = target != -100
    return -logp[keep.nonzero()[:, 0], target[keep]].sum().item() / int(keep.sum()), int(keep.sum())


def perplexity_case(model_name, model, window, stride, mode, seed):
    g = torch.Generator().manual_seed(seed)
    documents = [random_ids(g, n) for n in DOC_LENGTHS]
    max_tokenized_len = window - 1
    encoded = documents
    sliding_window_step = stride
    if mode == "truncate":
        encoded = [x[0:max_tokenized_len] for x in documents]
        sliding_window_step = max_tokenized_len
    total_nll = torch.tensor(0, dtype=torch.float64)
    total_token_cnt = 0
    windows = []
    for index, doc in enumerate(encoded):
        labels = torch.tensor([doc])
        seq_len = labels.size(1)
        prev_end_loc = 0
        for begin_loc in range(0, seq_len, sliding_window_step):
            end_loc = min(begin_loc + max_tokenized_len, seq_len)
            trg_len = end_loc - prev_end_loc
            input_ids = labels[:, begin_loc:end_loc]
            input_ids = torch.cat([torch.tensor([[BOS]]), input_ids], dim=1)
            target_ids = input_ids.clone()
            target_ids[:, :-trg_len] = -100
            outputs = model(input_ids, labels=target_ids)
            neg_log_likelihood = outputs.loss
            nll = neg_log_likelihood * trg_len  # fp32, as in the official code
            total_nll += nll
            total_token_cnt += trg_len

            manual, mean_over = manual_window_loss(outputs.logits, target_ids)
            assert abs(manual - neg_log_likelihood.item()) <= 1e-5 * max(1.0, abs(manual)), (manual, outputs.loss)
            windows.append({"document": index, "begin": begin_loc, "end": end_loc, "inputLength": input_ids.size(1),
                            "scored": trg_len, "meanOver": mean_over,
                            "loss": float("%.9g" % neg_log_likelihood.item()), "nll": nll.item()})
            prev_end_loc = end_loc
            if end_loc == seq_len:
                break
    ppl = float(torch.exp(total_nll / total_token_cnt).float())
    # recompute from the recorded windows
    check_total = sum(w["nll"] for w in windows)
    assert abs(check_total - total_nll.item()) < 1e-9 * max(1.0, check_total)
    assert sum(w["scored"] for w in windows) == total_token_cnt
    assert abs(math.exp(check_total / total_token_cnt) - ppl) <= 1e-6 * ppl
    return {"model": model_name, "documents": documents, "window": window, "stride": sliding_window_step,
            "mode": mode, "bos": BOS, "windows": windows, "totalNll": total_nll.item(), "tokens": total_token_cnt,
            "perplexity": float("%.9g" % ppl)}


# ---------------------------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------------------------

def greedy_without_cache(model, prompt):
    ids = list(prompt)
    new = []
    for _ in range(MAX_NEW_TOKENS):
        logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
        nxt = int(logits.argmax())
        new.append(nxt)
        ids.append(nxt)
        if nxt == EOS:
            break
    return new


def generate(model, prompt):
    """model.generate as the brief says; returns the new ids and the first-step logits of the full forward."""
    input_ids = torch.tensor([prompt])
    out = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=MAX_NEW_TOKENS,
                         do_sample=False, num_beams=1, eos_token_id=EOS, pad_token_id=PAD,
                         return_dict_in_generate=True, output_logits=True)
    new_ids = out.sequences[0, len(prompt):].tolist()
    # with a batch of one, generate stops at EOS (kept as the last new id) and never pads after it
    if EOS in new_ids:
        assert new_ids.index(EOS) == len(new_ids) - 1, new_ids
    logits = model(input_ids, use_cache=False).logits[0, -1]
    assert torch.allclose(out.logits[0][0], logits, atol=1e-5, rtol=1e-5), (out.logits[0][0] - logits).abs().max()
    manual = greedy_without_cache(model, prompt)
    assert manual == new_ids, (prompt, new_ids, manual)
    return new_ids, logits


def digits(text):
    m = re.search(r"\d+", text)
    return m.group() if m else None


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    models = {name: load(name) for name in ["llama", "llama-gqa-tied", "llama-yarn", "mistral-swa"]}
    tokenizer = tokenizers.Tokenizer.from_file(str(MODELS / "llama/tokenizer.json"))
    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(MODELS / "llama/tokenizer.json"))

    def encode(text):
        ids = tokenizer.encode(text).ids
        assert ids == hf_tokenizer.encode(text, add_special_tokens=False), text
        assert BOS not in ids  # no post-processor
        return ids

    def decode(ids):
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert text == hf_tokenizer.decode(ids, skip_special_tokens=True), ids
        return text

    doc = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "tokenizers": tokenizers.__version__},
           "maxNewTokens": MAX_NEW_TOKENS, "bos": BOS, "eos": EOS, "pad": PAD}

    with torch.no_grad():
        doc["perplexity"] = [perplexity_case(name, models[name], w, s, mode, seed)
                             for name, w, s, mode, seed in PPL_CASES]

        generation = []
        for name, lengths, seed in GEN_CASES:
            g = torch.Generator().manual_seed(seed)
            for n in lengths:
                prompt = random_ids(g, n)
                new_ids, logits = generate(models[name], prompt)
                generation.append({"model": name, "promptIds": prompt, "newIds": new_ids,
                                   "lastPromptLogits": f32(logits.tolist())})
        for text in TEXT_PROMPTS:
            prompt = encode(text)
            new_ids, logits = generate(models["llama"], prompt)
            out_text = decode(new_ids)
            generation.append({"model": "llama", "prompt": text, "promptIds": prompt, "newIds": new_ids,
                               "text": out_text, "digits": digits(out_text), "lastPromptLogits": f32(logits.tolist())})
        doc["generation"] = generation

        passkey = []
        for length, prefix, key in PASSKEY_CASES:
            total = (length - 32 - 26 - 11) // 25
            prefix = min(prefix, total)
            information_line = f"The pass key is {key}. Remember it. {key} is the pass key."
            text = "\n".join([TASK_DESCRIPTION, GARBAGE * prefix, information_line, GARBAGE * (total - prefix),
                              FINAL_QUESTION])
            ids = encode(text)
            new_ids, _ = generate(models["llama"], ids)
            out_text = decode(new_ids)
            passkey.append({"length": length, "garbageTotal": total, "prefix": prefix, "key": key, "prompt": text,
                            "ids": ids, "newIds": new_ids, "text": out_text, "digits": digits(out_text)})
        doc["passkeyPrompts"] = passkey

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
