"""Pre-training speed: LSTMLanguageModel against a hand-written PyTorch loop.

Both train the same network (embedding 256, one LSTM layer of 256, adaptive
softmax over the 30,000-word vocabulary plus padding and OOV, the library's
initialisation) on the same batches (64 windows of 70 tokens from the same
token stream), with the same fused Adam, the same gradient clipping and the
same learning-rate schedule. The hand-written loop gets its batches
ready-made; ``LSTMLanguageModel.fit`` tokenizes the corpus itself, twice
(the vocabulary, then the epoch), and that is counted in its time.
Rounds alternate between the two (``--rounds``), in one process, on the
same threads; the ratio of the medians is reported (docs/performance.rst).

A second part feeds a corpus to ``partial_fit`` in chunks and prints the
resident memory after each chunk: it must stay flat (one chunk is held at a
time).

    python benchmarks/bench_pretraining_speed.py                 # 1M words, 3 rounds
    python benchmarks/bench_pretraining_speed.py --words 2000000 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklstm import LSTMLanguageModel  # noqa: E402
from sklstm._lm_data import Windows, document_stream, window_batches  # noqa: E402
from sklstm._lm_module import LanguageNet  # noqa: E402
from sklstm._lm_training import lr_factor  # noqa: E402
from sklstm._optim import Adam  # noqa: E402
from sklstm.datasets import TextLines, shared_datasets_dir  # noqa: E402

CORPUS = "unlabelled/imdb_reviews/imdb_reviews.txt.xz"


def corpus(n_words: int) -> list:
    docs, total = [], 0
    for doc in TextLines(shared_datasets_dir() / CORPUS):
        docs.append(doc)
        total += len(doc.split())
        if total >= n_words:
            break
    return docs


def sklstm_fit(docs, seed: int) -> tuple[float, int, LSTMLanguageModel]:
    lm = LSTMLanguageModel(random_state=seed, chunk_size=10**9)
    start = time.perf_counter()
    lm.fit(docs)
    return time.perf_counter() - start, lm.n_tokens_seen_, lm


def hand_written(lm: LSTMLanguageModel, docs, seed: int) -> tuple[float, int]:
    """The same network and batches in a plain loop (batches made beforehand)."""
    ids, lengths = lm.sequencer_._flat_ids(docs)
    rows = Windows(lm.bptt).feed(document_stream(ids, lengths))
    batches = window_batches(rows, lm.batch_size, np.random.default_rng([seed, 0]))
    data = [
        (torch.from_numpy(rows[b][:, :-1]), torch.from_numpy(rows[b][:, 1:]))
        for b in batches
    ]
    torch.manual_seed(seed)
    emb = torch.nn.Embedding(lm._module_kwargs["n_tokens"], lm.embedding_dim)
    rnn = torch.nn.LSTM(lm.embedding_dim, lm.hidden_size, batch_first=True)
    head = LanguageNet(**lm._module_kwargs).decoder
    drop = torch.nn.Dropout(lm.dropout)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = Adam(params, lr=lm.lr, fused=True)
    total = len(data)
    start = time.perf_counter()
    n = 0
    for step, (x, y) in enumerate(data):
        for g in opt.param_groups:
            g["lr"] = lm.lr * lr_factor(step, total)
        h = drop(rnn(emb(x))[0]).reshape(-1, lm.hidden_size)
        loss = head(h, y.reshape(-1)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, lm.max_grad_norm)
        opt.step()
        n += y.numel()
    return time.perf_counter() - start, n


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_by_chunk(n_chunks: int, chunk_words: int) -> list:
    lm = LSTMLanguageModel(random_state=0)
    out, chunk, words = [], [], 0
    for doc in TextLines(shared_datasets_dir() / CORPUS):
        chunk.append(doc)
        words += len(doc.split())
        if words >= chunk_words:
            lm.partial_fit(chunk)
            out.append((len(out) + 1, lm.n_tokens_seen_, rss_mib()))
            print(
                f"  chunk {out[-1][0]}: {out[-1][1]:,} tokens, RSS {out[-1][2]:.0f} MiB"
            )
            chunk, words = [], 0
            if len(out) == n_chunks:
                break
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-words", type=int, default=500_000)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    docs = corpus(args.words)
    ours, theirs = [], []
    for r in range(args.rounds):
        t_s, n_s, lm = sklstm_fit(docs, seed=r)
        t_h, n_h = hand_written(lm, docs, seed=r)
        ours.append(n_s / t_s)
        theirs.append(n_h / t_h)
        print(
            f"round {r}: LSTMLanguageModel.fit {n_s / t_s:,.0f} tokens/s ({t_s:.1f} s, "
            f"tokenizing included), hand-written {n_h / t_h:,.0f} tokens/s "
            f"({t_h:.1f} s): {n_s / t_s / (n_h / t_h):.3f}x",
            flush=True,
        )
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"\n{len(docs):,} documents, {args.threads} thread(s): median "
        f"{statistics.median(ours):,.0f} vs {statistics.median(theirs):,.0f} "
        f"tokens/s = {ratio:.3f}x the hand-written loop"
    )
    print(f"\nmemory, partial_fit in chunks of {args.chunk_words:,} words:")
    memory_by_chunk(args.chunks, args.chunk_words)


if __name__ == "__main__":
    main()
