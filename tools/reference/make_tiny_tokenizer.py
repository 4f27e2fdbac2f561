#!/usr/bin/env python3
"""A 128-token byte-level BPE tokenizer for the tiny test models (the Hugging Face `tokenizers` library), saved as
tokenizer.json into trainer-image/src/test/resources/tiny-models/llama/, and the ids it gives for a few texts, which
the Java tokenization test (DJL's binding of the same Rust library) must reproduce.

    /tmp/pyref/bin/python tools/reference/make_tiny_tokenizer.py
"""
import json
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "trainer-image/src/test/resources/tiny-models/llama"
CORPUS = ["The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."] * 20 + [
    "The pass key is 12345. Remember it. 12345 is the pass key.", "What is the pass key? The pass key is"]
TEXTS = ["The grass is green.", "The pass key is 4711. Remember it.", "unseen words: zebra, quokka!"]


def main():
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=128, special_tokens=["<pad>", "<s>", "</s>"])
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.save(str(OUT / "tokenizer.json"))
    expected = {t: tokenizer.encode(t).ids for t in TEXTS}
    (OUT / "tokenizer_expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(tokenizer.get_vocab_size(), expected)


if __name__ == "__main__":
    main()
