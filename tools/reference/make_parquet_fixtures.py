#!/usr/bin/env python3
"""Parquet files written by pyarrow, and the records pyarrow reads back from them, for ParquetRecordsTest.

    /work/pyref/bin/pip install pyarrow
    /work/pyref/bin/python tools/reference/make_parquet_fixtures.py trainer-image/src/test/resources/parquet

Writes into the directory:
  corpus-snappy.parquet  a pre-training corpus (text, id, score with a null, keep), snappy (pyarrow's default),
                         two row groups
  corpus-zstd.parquet    the same rows, zstd (what many Hugging Face datasets use), two row groups
  arc_easy.parquet       eval/tasks/arc_easy.jsonl in allenai/ai2_arc's layout: choices is a struct of two lists
  hellaswag.parquet      eval/tasks/hellaswag.jsonl in Rowan/hellaswag's layout: endings a list, label a string
  expected.json          per file, every row as pyarrow's Table.to_pylist() gives it
"""
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
tasks = pathlib.Path(__file__).resolve().parents[2] / "trainer-image/src/test/resources/eval/tasks"

corpus = pa.table({
    "text": ["The sky is blue.", "Here we go: there and back again.", "",
             "Unicode: naïve café, 日本語, emoji 🚀.", "Line one.\nLine two.\n"],
    "id": pa.array([1, 2, 3, 4, 5_000_000_000], pa.int64()),
    "score": pa.array([0.5, None, -1.25, 3.0, 1e-3], pa.float64()),
    "keep": [True, False, True, True, False],
})
files = {
    "corpus-snappy.parquet": (corpus, "snappy"),
    "corpus-zstd.parquet": (corpus, "zstd"),
}


def jsonl(name):
    return [json.loads(line) for line in (tasks / name).read_text().splitlines() if line.strip()]


strings = pa.list_(pa.string())
files["arc_easy.parquet"] = (pa.Table.from_pylist(jsonl("arc_easy.jsonl"), pa.schema([
    ("id", pa.string()), ("question", pa.string()),
    ("choices", pa.struct([("text", strings), ("label", strings)])), ("answerKey", pa.string())])), "snappy")
files["hellaswag.parquet"] = (pa.Table.from_pylist(jsonl("hellaswag.jsonl"), pa.schema([
    ("ind", pa.int32()), ("activity_label", pa.string()), ("ctx_a", pa.string()), ("ctx_b", pa.string()),
    ("ctx", pa.string()), ("endings", strings), ("source_id", pa.string()), ("split", pa.string()),
    ("split_type", pa.string()), ("label", pa.string())])), "snappy")

expected = {}
for name, (table, compression) in files.items():
    # three rows a group: the corpus spans two row groups
    pq.write_table(table, out / name, compression=compression, row_group_size=3)
    read = pq.read_table(out / name)
    assert pq.ParquetFile(out / name).metadata.num_row_groups == (2 if name.startswith("corpus") else
                                                                   (len(read) + 2) // 3)
    expected[name] = read.to_pylist()
expected["pyarrow"] = pa.__version__
(out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
