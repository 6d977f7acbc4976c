"""Pre-train an LSTMLanguageModel on one of the unlabelled corpora (resumable).

The corpora are the user's part of pre-training; here they come from
``../shared/datasets/unlabelled`` (never from the evaluation sets, which were
removed from them). A run writes a checkpoint every few minutes; run the same
command again after an interruption and it resumes where it stopped, ending
with the model an uninterrupted run gives. The finished model is saved with
``sklstm.save`` beside a JSON record (command, seed, corpus sha256, wall time,
hardware, perplexity on held-out documents and of a unigram baseline).

    python benchmarks/pretrain.py imdb --out runs/           # 22.8M words
    python benchmarks/pretrain.py wikipedia --out runs/      # 29.5M words
    python benchmarks/pretrain.py weibo --out runs/          # 29.5M characters
    python benchmarks/pretrain.py imdb --words 1000000 --out runs/   # the first 1M words
    python benchmarks/pretrain.py wikipedia --glove --out runs/  # embedding from GloVe (shipped)

The last ``--held-out`` documents of each corpus are never trained on: they
give the held-out perplexity.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import torch

import sklstm
from sklstm import LSTMLanguageModel
from sklstm.datasets import TextLines, shared_datasets_dir

CORPORA = {
    "imdb": ["imdb_reviews/imdb_reviews.txt.xz"],
    "wikipedia": ["wikipedia_en/enwiki_2015_first10604.txt.xz"],
    "weibo": ["weibo_ced/weibo_ced.txt.xz", "weibo_covid19/weibo_covid19.txt.xz"],
}
#: word vectors that may start the embedding (PDDL: may ship)
GLOVE = "unlabelled/glove_6B_50d/glove.6B.50d.top100k.txt.xz"
#: documents held out at the end of each corpus
HELD_OUT = {"imdb": 1000, "wikipedia": 100, "weibo": 5000}


class Corpus:
    """Documents ``start`` .. ``stop`` of the files, in order, re-read per pass."""

    def __init__(self, paths, start=0, stop=None):
        self.paths, self.start, self.stop = paths, start, stop

    def __iter__(self):
        i = 0
        for path in self.paths:
            for doc in TextLines(path):
                if self.stop is not None and i >= self.stop:
                    return
                if i >= self.start:
                    yield doc
                i += 1


def count_docs(paths) -> int:
    return sum(1 for _ in Corpus(paths))


def first_docs_for_words(corpus, n_words: int) -> int:
    total = 0
    for i, doc in enumerate(corpus):
        total += len(doc.split())
        if total >= n_words:
            return i + 1
    return i + 1


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unigram_perplexity(lm, train, held) -> float:
    """Perplexity of a unigram model (add-one) over the LM's vocabulary and ends."""
    seq = lm.sequencer_
    counts = Counter()
    for chunk in _chunks(train):
        ids, lengths = seq._flat_ids(chunk)
        counts.update(ids.tolist())
        counts[0] += len(lengths)
    n_ids = max(seq.vocabulary_.values()) + 1
    total = sum(counts.values()) + n_ids
    log_p, n = 0.0, 0
    for chunk in _chunks(held):
        ids, lengths = seq._flat_ids(chunk)
        for i in ids.tolist() + [0] * len(lengths):
            log_p += math.log((counts[i] + 1) / total)
            n += 1
    return math.exp(-log_p / n)


def _chunks(docs, size=5000):
    chunk = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=sorted(CORPORA))
    parser.add_argument("--out", default="runs")
    parser.add_argument("--words", type=int, default=None, help="first N words only")
    parser.add_argument("--held-out", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--glove",
        action="store_true",
        help="start the embedding from the GloVe 6B 50d vectors (embedding 50)",
    )
    parser.add_argument("--embedding-dim", type=int, default=256)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    home = shared_datasets_dir()
    if home is None:
        sys.exit("no ../shared/datasets folder (set SKLSTM_SHARED_DATASETS)")
    paths = [home / "unlabelled" / p for p in CORPORA[args.corpus]]
    n_docs = count_docs(paths)
    held_n = args.held_out if args.held_out is not None else HELD_OUT[args.corpus]
    stop = n_docs - held_n
    train = Corpus(paths, 0, stop)
    if args.words is not None:
        train = Corpus(paths, 0, min(stop, first_docs_for_words(train, args.words)))
    held = Corpus(paths, stop, None)
    name = args.name or (
        f"{args.corpus}"
        + (f"_{args.words // 1000000}M" if args.words else "")
        + ("_glove" if args.glove else "")
    )
    vectors = home / GLOVE if args.glove else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lm = LSTMLanguageModel(
        embedding_dim=50 if args.glove else args.embedding_dim,
        word_vectors=vectors,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        lr=args.lr,
        max_epochs=args.epochs,
        checkpoint=out / f"{name}.ckpt",
        checkpoint_every=300,
        random_state=args.seed,
        verbose=1,
    )
    start = time.perf_counter()
    lm.fit(train)
    wall = time.perf_counter() - start
    held_ppl = lm.perplexity(held)
    record = {
        "command": "python benchmarks/pretrain.py " + " ".join(argv or sys.argv[1:]),
        "corpus": args.corpus,
        "files": {
            str(p.relative_to(home)): sha256(p)
            for p in paths + ([vectors] if vectors else [])
        },
        "training_documents": train.stop,
        "held_out_documents": held_n,
        "seed": args.seed,
        "params": {
            k: v
            for k, v in lm.get_params().items()
            if isinstance(v, int | float | str | os.PathLike)
            and k not in ("checkpoint", "word_vectors")
        },
        "vocabulary_ids": max(lm.sequencer_.vocabulary_.values()) + 1,
        "vocabulary_coverage": lm.vocabulary_coverage_,
        "tokens_seen": lm.n_tokens_seen_,
        "steps": lm.n_steps_,
        "loss_curve": lm.loss_curve_,
        "wall_seconds_this_sitting": wall,
        "held_out_perplexity": held_ppl,
        "unigram_held_out_perplexity": unigram_perplexity(
            lm, Corpus(paths, 0, min(train.stop, 20000)), held
        ),
        "hardware": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} thread(s)",
        "history": lm.history_,
    }
    with open(out / f"{name}.json", "w") as f:
        json.dump(record, f, indent=1)
    try:
        sklstm.save(lm, out / f"{name}.sklstm")
    except TypeError as exc:  # the safe format may not know the model yet
        print(f"not saved with sklstm.save: {exc}")
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
