#!/usr/bin/env python3
"""Simulates the official PoSE sampling rule and writes, for each relative distance, how many samples cover it.

The rule (dwzhu-pku/PoSE, src/train_pose.py, train_preprocess_function_pose), for a document of n tokens kept
to at most 5*Lc, and w = min(n, Lc), with inclusive uniform draws (Python's random.randint):
  l0 ~ U[1, (w+1)//2]          first chunk: tokens [0, l0) at positions 0..l0-1
  e  ~ U[w, n]                 second chunk: tokens [e-(w-l0), e)
  s  ~ U[0, Lt-w]              second chunk's positions: l0..w-1 shifted by s
A sample covers distance d when two of its tokens are d positions apart: within a chunk of length a that is
1..a-1; across the chunks it is s+1 .. s+w-1.

The Java test (pose-core, OfficialSamplerCoverageTest) draws its own samples with the same document lengths and
compares the coverage distribution with this file. Pure standard library; no torch needed.

    python3 tools/reference/pose_coverage.py > pose-core/src/test/resources/reference/pose_coverage.json
"""
import json
import random
import sys

SEED = 20231009
CONFIGS = [
    {"trainingWindow": 64, "targetLength": 512, "samples": 200_000},
    {"trainingWindow": 32, "targetLength": 4096, "samples": 200_000},
]


def document_length(i, lc):
    """Deterministic document lengths, shared with the Java test: short ones (n < Lc) and ones cut at 5 Lc."""
    return 1 + (i * 7919) % (6 * lc)


def coverage(lc, lt, samples, rng):
    diff = [0] * (lt + 1)  # difference array over distances 0..lt

    def cover(lo, hi):
        if lo <= hi:
            diff[lo] += 1
            diff[hi + 1] -= 1

    for i in range(samples):
        n = min(document_length(i, lc), 5 * lc)
        w = min(n, lc)
        l0 = rng.randint(1, (w + 1) // 2)
        rng.randint(w, n)  # the second chunk's end: moves the text, not the positions
        s = rng.randint(0, lt - w)
        within = max(l0, w - l0) - 1
        spans = [(1, within)]
        if w - l0 > 0:
            spans.append((s + 1, s + w - 1))
        # union of the two spans, so a distance is counted once per sample
        spans.sort()
        merged = []
        for lo, hi in spans:
            if lo > hi:
                continue
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        for lo, hi in merged:
            cover(lo, hi)
    counts, running = [], 0
    for d in range(lt):
        running += diff[d]
        counts.append(running)
    return counts


def main():
    rng = random.Random(SEED)
    out = {
        "generator": "tools/reference/pose_coverage.py",
        "rule": "official PoSE (train_preprocess_function_pose); skip s ~ U[0, Lt-w]",
        "documentLength": "1 + (i * 7919) % (6 * trainingWindow), kept to 5 * trainingWindow",
        "seed": SEED,
        "configs": [],
    }
    for cfg in CONFIGS:
        counts = coverage(cfg["trainingWindow"], cfg["targetLength"], cfg["samples"], rng)
        out["configs"].append(dict(cfg, coveredByDistance=counts))
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
