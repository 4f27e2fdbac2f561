#!/usr/bin/env python3
"""A natural-English training and held-out corpus that needs no download: the Python language reference's topics.

    python_docs_corpus.py OUT_DIR [--min-chars N] [--library]

CPython ships the text of its reference's help topics (pydoc_data.topics, about 490,000 characters in 79 topics).
Topics are taken in name order; every fourth goes to held-out.jsonl, as one document (about 68,000 characters, long
enough for perplexity at 16k tokens), the rest to train.jsonl, joined into documents of at least --min-chars
characters (default 16000, about 4,000 SmolLM2 tokens); one JSON object {"text": ...} per line.

With --library the training text also holds the standard library's module documentation, as `pydoc` renders it
(about 5.3 million characters, 1.3 million SmolLM2 tokens), after the topics: enough for documents of 32k tokens
(--min-chars 160000) for full-length fine-tuning at 32k. Only what the modules' authors wrote is kept: each module's
NAME, DESCRIPTION, CLASSES and FUNCTIONS sections, without object addresses, with the environment and the interpreter's
path that default arguments show replaced by their names; the DATA, FILE and other sections, which show this
machine's values (sys.path, install paths), are dropped. The held-out documents are the same.

The output depends only on the Python version that runs the script (it is printed).
"""

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import pydoc
import re
import sys

from pydoc_data import topics


def documents(texts, min_chars):
    out, current = [], []
    for text in texts:
        current.append(text.strip())
        if sum(len(t) for t in current) >= min_chars:
            out.append("\n\n".join(current))
            current = []
    if current:
        out.append("\n\n".join(current))
    return out


# modules whose import acts (opens a browser, prints), or that are not the library's API
SKIP = {"antigravity", "this", "idlelib", "turtledemo", "__future__", "__hello__", "__phello__"}
KEEP = ("NAME", "DESCRIPTION", "CLASSES", "FUNCTIONS")
SECTION = re.compile(r"^([A-Z][A-Z ]+)$", re.M)
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def library():
    """The standard library's public modules' documentation, in name order, sanitized (see the module's doc)."""
    texts = []
    for name in sorted(sys.stdlib_module_names):
        if name in SKIP or name.startswith("_"):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                text = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
        except Exception:  # not built on this platform (winreg, msvcrt, ...)
            continue
        parts = SECTION.split(text)
        kept = [f"{parts[i]}\n{parts[i + 1].rstrip()}" for i in range(1, len(parts) - 1, 2) if parts[i] in KEEP]
        if kept:
            texts.append(neutral("\n\n".join(kept)))
    return texts


def neutral(text):
    """The text without this machine's values that default arguments show: the environment, the interpreter's path."""
    text = ADDRESS.sub("", text)
    for value, name in ((repr(os.environ), "os.environ"), (repr(os.environb), "os.environb"),
                        (repr(sys.executable), "sys.executable"), (sys.executable, "python"),
                        (sys.prefix, "PREFIX"), (sys.base_prefix, "PREFIX"), (sys.exec_prefix, "PREFIX")):
        text = text.replace(value, name)
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--min-chars", type=int, default=16000)
    p.add_argument("--library", action="store_true", help="add the standard library's module documentation")
    a = p.parse_args()
    names = sorted(topics.topics)
    held_out = [topics.topics[n] for i, n in enumerate(names) if i % 4 == 3]
    train = [topics.topics[n] for i, n in enumerate(names) if i % 4 != 3]
    if a.library:
        train += library()
    os.makedirs(a.out, exist_ok=True)
    for name, docs in (("train.jsonl", documents(train, a.min_chars)),
                       ("held-out.jsonl", documents(held_out, sys.maxsize))):
        with open(os.path.join(a.out, name), "w") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        print(f"{os.path.join(a.out, name)}: {len(docs)} documents, {sum(len(d) for d in docs):,} characters",
              file=sys.stderr)
    print(f"from pydoc_data.topics{' and the standard library' if a.library else ''} of Python "
          f"{platform.python_version()}", file=sys.stderr)


if __name__ == "__main__":
    main()
