"""Reference vectors from EleutherAI lm-evaluation-harness for multiple-choice log-likelihood scoring.

Runs the harness's OWN task definitions (hellaswag, arc_easy, arc_challenge, piqa, boolq, winogrande;
doc_to_text / doc_to_choice / doc_to_target / process_docs untouched) on the tiny JSON-lines task files in
trainer-image/src/test/resources/eval/tasks/, with the harness's HFLM ("hf") model on the tiny random Llama
(trainer-image/src/test/resources/tiny-models/llama/), fp32 on the CPU, batch size 1, log_samples=True:

  * every task zero-shot;
  * arc_easy 2-shot (few-shot pool = the same file; fewshot_split = the evaluated split, so the harness
    removes the evaluated doc from its own context; few-shot sampler seed = the harness default 1234);
  * one extra run (bos_runs) of arc_easy zero-shot with HFLM(add_bos_token=True), which is what a tokenizer
    whose tokenizer.json post-processor prepends <s> (real Llama checkpoints) produces;
  * encode_pair_cases: hand-picked (context, continuation) pairs sent straight to HFLM.loglikelihood
    (trailing spaces in the context, a BPE merge across the boundary, an empty context).

The task YAMLs are tools/reference/lm_eval_tasks/*.yaml: each `include`s the harness's own YAML (path relative
to the installed lm_eval/tasks/) and only replaces the data source (dataset_path: json + data_files). The script
copies them to a temporary folder with absolute paths and hands that folder to the harness's TaskManager.

The model directory is copied to a temporary folder and a tokenizer_config.json is added there (the tiny model
ships tokenizer.json only, which names no bos/eos/pad token; HFLM needs eos for eot_token_id and bos for
prefix_token_id). The tiny model's own folder is never modified.

Every request's context_enc / continuation_enc is recomputed with HFLM._encode_pair on the logged arguments,
and each log-likelihood is checked against a plain transformers forward pass on those ids.

Install (PyPI only; the Hub is not used):

    /work/pyref/bin/pip install "lm_eval[hf]==0.4.13"   # into the venv with torch 2.15 + transformers 5.24;
                                                          # [hf] adds accelerate 1.15.0 and peft 0.21.2

Run (deterministic: CPU, one thread, fp32, fixed seeds; the whole run takes well under a minute):

    HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        /work/pyref/bin/python tools/reference/lm_eval_reference.py

It writes trainer-image/src/test/resources/eval/reference_lm_eval.json.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
import yaml  # noqa: E402

import lm_eval  # noqa: E402
import lm_eval.tasks  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

try:
    from importlib.metadata import version as _pkg_version
except ImportError:  # pragma: no cover
    _pkg_version = None

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "trainer-image/src/test/resources/tiny-models/llama"
DATA_DIR = REPO / "trainer-image/src/test/resources/eval/tasks"
TASK_YAML_DIR = Path(__file__).resolve().parent / "lm_eval_tasks"
OUT = REPO / "trainer-image/src/test/resources/eval/reference_lm_eval.json"
HARNESS_TASKS_DIR = Path(lm_eval.tasks.__file__).resolve().parent

# Added next to a copy of the model: tokenizer.json itself names no special tokens.
TOKENIZER_CONFIG = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "pad_token": "<pad>",
}

# (reference task name, harness task it reproduces)
ZERO_SHOT = [
    ("ref_hellaswag", "hellaswag"),
    ("ref_arc_easy", "arc_easy"),
    ("ref_arc_challenge", "arc_challenge"),
    ("ref_piqa", "piqa"),
    ("ref_boolq", "boolq"),
    ("ref_winogrande", "winogrande"),
]
FEW_SHOT = [("ref_arc_easy_fewshot", "arc_easy")]
FEW_SHOT_N = 2
FEWSHOT_SEED = 1234  # lm_eval.defaults.DEFAULT_OTHER_SEED, simple_evaluate's default fewshot_random_seed
MAX_LENGTH = 2048  # HFLM default would be config.max_position_embeddings = 64
MODEL_MAX_POSITIONS = 64

ENCODE_PAIR_CASES = [
    ("The sky is ", "blue."),  # one trailing space moves into the continuation
    ("The pass key is 12345.  ", "Remember it."),  # two trailing spaces move
    ("The gr", "ass is green."),  # BPE merge across the boundary ("Ġgrass")
    ("The grass is", " green."),
    ("Question: What is the sky?\nAnswer:", " blue"),  # ':' '\n' 'Q' 'A' are not in the vocabulary
    ("", "The grass is green."),  # empty context: prefix_token_id (= bos 1) as the context
    ("", " There and back again."),
    ("Remember it.", " yellow"),  # the model's greedy next token (is_greedy true)
    ("The sky is", "lu"),  # greedy token glued to the last word
]


def _version(name: str) -> str:
    try:
        return _pkg_version(name) if _pkg_version else "unknown"
    except Exception:  # noqa: BLE001
        return "unknown"


def prepare_model_dir(tmp: Path) -> Path:
    d = tmp / "tiny-llama"
    d.mkdir()
    for f in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy2(MODEL_DIR / f, d / f)
    (d / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
    return d


def prepare_task_dir(tmp: Path) -> Path:
    d = tmp / "tasks"
    d.mkdir()
    for src in sorted(TASK_YAML_DIR.glob("*.yaml")):
        cfg = yaml.safe_load(src.read_text())
        cfg["include"] = str(HARNESS_TASKS_DIR / cfg["include"])
        files = cfg["dataset_kwargs"]["data_files"]
        for split, name in list(files.items()):
            files[split] = str(DATA_DIR / name)
        cfg["dataset_kwargs"]["cache_dir"] = str(tmp / "datasets-cache")  # no stale ~/.cache reuse
        (d / src.name).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return d


def make_lm(model_dir: Path, **extra) -> HFLM:
    return HFLM(
        pretrained=str(model_dir),
        backend="causal",
        dtype="float32",
        device="cpu",
        batch_size=1,
        max_length=MAX_LENGTH,
        **extra,
    )


def plain_loglikelihood(model, ctx_ids, cont_ids):
    """Independent check: one forward pass, log_softmax, sum over the continuation positions."""
    ids = torch.tensor([ctx_ids + cont_ids], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    n = len(cont_ids)
    pos = torch.arange(len(ctx_ids) - 1, len(ctx_ids) - 1 + n)
    tok = torch.tensor(cont_ids)
    picked = logp[pos, tok]
    greedy = bool((logp[pos].argmax(-1) == tok).all())
    return float(picked.sum()), greedy


def record_request(lm, context, continuation, ll, is_greedy):
    if context == "":
        raise AssertionError("tasks here never send an empty context")
    ctx_enc, cont_enc = lm._encode_pair(context, continuation)
    ref_ll, ref_greedy = plain_loglikelihood(lm.model, ctx_enc, cont_enc)
    assert abs(ref_ll - ll) <= 1e-4 * max(1.0, abs(ll)), (context, continuation, ll, ref_ll)
    assert ref_greedy == is_greedy, (context, continuation)
    total = len(ctx_enc) + len(cont_enc)
    return {
        "context": context,
        "continuation": continuation,
        "context_enc": ctx_enc,
        "continuation_enc": cont_enc,
        "loglikelihood": ll,
        "is_greedy": is_greedy,
        "total_tokens": total,
    }


def run(lm, tm, tasks, num_fewshot):
    loaded = tm.load([name for name, _ in tasks])["tasks"]
    task_objs = [loaded[name] for name, _ in tasks]
    # Record which few-shot docs the harness's sampler drew (as indices into its pool).
    drawn: dict[str, list] = {}
    for t in task_objs:
        if num_fewshot and hasattr(t, "sampler"):
            sampler = t.sampler
            orig = sampler.sample
            pool = list(sampler.fewshot_docs())

            def sample(n, eval_doc=None, df=None, _orig=orig, _pool=pool, _name=t.config.task, **kw):
                res = _orig(n, eval_doc=eval_doc, df=df, **kw)
                drawn.setdefault(_name, []).append([_pool.index(d) for d in res])
                return res

            sampler.sample = sample

    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=task_objs,
        task_manager=tm,
        num_fewshot=num_fewshot,
        batch_size=1,
        device="cpu",
        log_samples=True,
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=1234,
        torch_random_seed=1234,
        fewshot_random_seed=FEWSHOT_SEED,
    )
    out = []
    for (name, harness_name), t in zip(tasks, task_objs):
        res = results["results"][name]
        metrics = {
            m: res[f"{m},none"] for m in ("acc", "acc_norm") if f"{m},none" in res
        }
        docs = []
        samples = sorted(results["samples"][name], key=lambda s: s["doc_id"])
        for i, s in enumerate(samples):
            doc = s["doc"]
            choices = t.doc_to_choice(doc)
            if t.multiple_input:
                gold = t.doc_to_text(doc)
            else:
                gold = t.doc_to_target(doc)
            requests = []
            for args, resp in zip(s["arguments"], s["resps"]):
                context, continuation = args[0], args[1]
                (ll, greedy) = resp[0]
                requests.append(record_request(lm, context, continuation, float(ll), bool(greedy)))
            entry = {
                "doc_index": s["doc_id"],
                "gold": gold,
                "choices": choices,
                "metrics": {m: s[m] for m in ("acc", "acc_norm") if m in s},
                "requests": requests,
            }
            if num_fewshot and name in drawn:
                entry["fewshot_doc_indices"] = drawn[name][i]
            docs.append(entry)
        out.append(
            {
                "task": harness_name,
                "reference_task": name,
                "num_fewshot": num_fewshot or 0,
                "data_file": Path(t.config.dataset_kwargs["data_files"]["test"]).name,
                "eval_split": "test" if t.has_test_docs() else "validation",
                "target_delimiter": t.config.target_delimiter,
                "fewshot_delimiter": t.config.fewshot_delimiter,
                "description": t.config.description,
                "metrics": metrics,
                "docs": docs,
            }
        )
    return out


def encode_pair_cases(lm):
    reqs = [
        Instance(request_type="loglikelihood", doc={}, arguments=(c, x), idx=i)
        for i, (c, x) in enumerate(ENCODE_PAIR_CASES)
    ]
    res = lm.loglikelihood(reqs, disable_tqdm=True)
    out = []
    for (c, x), (ll, greedy) in zip(ENCODE_PAIR_CASES, res):
        if c == "":
            # TemplateLM.loglikelihood: empty context -> [prefix_token_id] + tok_encode(cont, add_special_tokens=False)
            cont_enc = lm.tok_encode(x, add_special_tokens=False)
            if lm.prefix_token_id != cont_enc[0]:
                ctx_enc = [lm.prefix_token_id]
            else:
                ctx_enc, cont_enc = cont_enc[:1], cont_enc[1:]
        else:
            ctx_enc, cont_enc = lm._encode_pair(c, x)
        ref_ll, ref_greedy = plain_loglikelihood(lm.model, ctx_enc, cont_enc)
        assert abs(ref_ll - ll) <= 1e-4 * max(1.0, abs(ll)), (c, x, ll, ref_ll)
        out.append(
            {
                "context": c,
                "continuation": x,
                "context_enc": ctx_enc,
                "continuation_enc": cont_enc,
                "loglikelihood": float(ll),
                "is_greedy": bool(greedy),
            }
        )
    return out


def max_tokens(runs):
    return max(r["total_tokens"] for run in runs for d in run["docs"] for r in d["requests"])


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="lm_eval_ref_") as tmp:
        tmp = Path(tmp)
        model_dir = prepare_model_dir(tmp)
        task_dir = prepare_task_dir(tmp)
        tm = TaskManager(include_path=str(task_dir))

        lm = make_lm(model_dir)
        assert lm.max_length == MAX_LENGTH
        runs = run(lm, tm, ZERO_SHOT, None)
        runs += run(lm, tm, FEW_SHOT, FEW_SHOT_N)
        cases = encode_pair_cases(lm)
        prefix_token_id = lm.prefix_token_id
        eot_token_id = lm.eot_token_id

        lm_bos = make_lm(model_dir, add_bos_token=True)
        bos_runs = run(lm_bos, tm, [("ref_arc_easy", "arc_easy")], None)
        for r in bos_runs:
            r["model_args"] = {"add_bos_token": True}

    longest = max(max_tokens(runs), max_tokens(bos_runs))
    doc = {
        "versions": {
            "lm_eval": _version("lm_eval"),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "datasets": _version("datasets"),
            "python": sys.version.split()[0],
        },
        "model": {
            "dir": str(MODEL_DIR.relative_to(REPO)),
            "harness_model": "hf (lm_eval.models.huggingface.HFLM)",
            "model_args": {
                "backend": "causal",
                "dtype": "float32",
                "device": "cpu",
                "batch_size": 1,
                "max_length": MAX_LENGTH,
            },
            "tokenizer_config_added": TOKENIZER_CONFIG,
            "prefix_token_id": prefix_token_id,
            "eot_token_id": eot_token_id,
            "adds_bos_by_default": False,
        },
        "fewshot_random_seed": FEWSHOT_SEED,
        "longest_request_tokens": longest,
        "truncated_at_default_max_length_64": longest > MODEL_MAX_POSITIONS + 1,
        "note": (
            "loglikelihood = sum over continuation_enc of log_softmax(logits) (float32, all 128 logits) from one "
            "forward pass over (context_enc + continuation_enc)[:-1]; no request was truncated (max_length "
            f"{MAX_LENGTH}). Requests whose context_enc + continuation_enc exceed 65 tokens would be left-truncated "
            "by HFLM's default max_length (= max_position_embeddings 64)."
        ),
        "runs": runs,
        "bos_runs": bos_runs,
        "encode_pair_cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} (longest request {longest} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
