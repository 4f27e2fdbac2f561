#!/usr/bin/env python3
"""A natural-English training and held-out corpus that needs no download: the Python language reference's topics.

    python_docs_corpus.py OUT_DIR [--min-chars N]

CPython ships the text of its reference's help topics (pydoc_data.topics, about 490,000 characters in 79 topics).
Topics are taken in name order; every fourth goes to held-out.jsonl, as one document (about 68,000 characters, long
enough for perplexity at 16k tokens), the rest to train.jsonl, joined into documents of at least --min-chars
characters (default 16000, about 4,000 SmolLM2 tokens); one JSON object {"text": ...} per line. The output depends only on the Python version that runs the script (it is printed).
"""

import argparse
import json
import os
import platform
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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--min-chars", type=int, default=16000)
    a = p.parse_args()
    names = sorted(topics.topics)
    held_out = [topics.topics[n] for i, n in enumerate(names) if i % 4 == 3]
    train = [topics.topics[n] for i, n in enumerate(names) if i % 4 != 3]
    os.makedirs(a.out, exist_ok=True)
    for name, docs in (("train.jsonl", documents(train, a.min_chars)),
                       ("held-out.jsonl", documents(held_out, sys.maxsize))):
        with open(os.path.join(a.out, name), "w") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        print(f"{os.path.join(a.out, name)}: {len(docs)} documents, {sum(len(d) for d in docs):,} characters",
              file=sys.stderr)
    print(f"from pydoc_data.topics of Python {platform.python_version()}", file=sys.stderr)


if __name__ == "__main__":
    main()
