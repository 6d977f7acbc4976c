"""Study: what a pretrained vocabulary can read (words versus sentencepiece pieces).

A word the vocabulary of a pretrained language model lacks is one
out-of-vocabulary id (1) to every model built on it. With no training at all,
this script measures how much of each evaluation set two vocabularies cover
and what each costs in sequence length (issue 31):

* **words** (today's): ``TextSequencer(max_features=30000, min_frequency=2)``,
  the ``LSTMLanguageModel`` tokenizer, fitted on the first documents of the
  corpus up to ``--max-tokens`` tokens (counted chunk by chunk as the language
  model counts them; an equal share from each file of a corpus). On each set's
  test part: token and type coverage, the same after the task extension of
  ``sklstm._pretrained.task_sequencer`` (training-part tokens seen >= 2 times
  added), and the share of test words unseen in the training part that stay
  out of vocabulary;
* **pieces**: sentencepiece unigram models (``--pieces``) trained on about
  ``--spm-chars`` lowercased characters drawn evenly from the same documents:
  unknown/byte-piece rate, pieces per whitespace word (per character for
  Chinese), share of word tokens kept as one piece, pieces per document
  against word tokens per document (an LSTM's cost grows with length).

Subsets of the test words (tokens with a letter or digit): **rare** (seen < 5
times in the corpus sample, or never), **unseen** (absent from the training
part), **numbers** (digits only), **typo**-shaped (English: letters only, >= 4
long, not in the word vocabulary, equal to a vocabulary word after deleting at
most one character from each, i.e. one insertion, deletion, substitution or
adjacent swap; a shape, not a typo detector: inflections and names match too)
and **tickers** (the word after a ``$``). For pieces each word is encoded on its
own (as after a space), a bare leading ``▁`` piece is not counted, and a word
is *whole* when one piece remains that is not unknown or a byte.

No accuracy is measured. Run from the repository root (a few minutes of one
core; data from ``../shared/datasets``)::

    python benchmarks/studies/vocabulary_study.py

Tables are printed and written, with the command, sample sizes, date and wall
time, to ``benchmarks/studies/vocabulary_results.md`` (a ``## Verdict``
section already there is kept); docs/pretraining.rst cites them.
"""

from __future__ import annotations

import argparse
import platform
import re
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path

import numpy as np
import sentencepiece as spm

from sklstm import datasets as ds
from sklstm._language_model import default_sequencer
from sklstm._lm_data import text_chunks
from sklstm._pretrained import MIN_ADDED_FREQUENCY
from sklstm.datasets import TextLines

#: corpus -> (files under unlabelled/, language)
CORPORA = {
    "wikipedia": (["wikipedia_en/enwiki_2015_first10604.txt.xz"], "en"),
    "imdb": (["imdb_reviews/imdb_reviews.txt.xz"], "en"),
    "weibo": (
        ["weibo_ced/weibo_ced.txt.xz", "weibo_covid19/weibo_covid19.txt.xz"],
        "zh",
    ),
}
SETS = {"en": ["tweets", "sentences", "sst2", "sms"], "zh": ["waimai"]}
RARE = 5  # a word seen fewer times than this in the corpus sample is rare
SPM_LINE = 1000  # spm skips long lines: the sample is cut into <= 1000-char lines
_HAS_WORD = re.compile(r"\w")
_DIGITS = re.compile(r"\d+")
_TICKER = re.compile(r"\$([^\W\d]\w*)")  # $aapl, not $5


# --- evaluation sets: (training part, test part) -------------------------------
def _split80(texts, seed):
    """A shuffled 80/20 split (for sets that come without one)."""
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(0.8 * len(texts))
    return [texts[i] for i in order[:cut]], [texts[i] for i in order[cut:]]


def _tsv_texts(path):
    """SST-2 texts: header ``label<TAB>sentence`` (train, CRLF) or
    ``label<TAB>content`` (dev); the text column is found by name, no quotes."""
    lines = [s.rstrip("\r") for s in path.read_text("utf-8").split("\n") if s.strip()]
    col = [c != "label" for c in lines[0].split("\t")].index(True)
    return [line.split("\t")[col] for line in lines[1:]]


def load_set(name, home, seed):
    if name == "tweets":
        return (
            ds.load_financial_tweets(subset="train").data,
            ds.load_financial_tweets(subset="valid").data,
        )
    if name == "sentences":
        return _split80(ds.load_sentiment_sentences().data, seed)
    if name == "sst2":  # training part = the 67k phrases of the train sentences
        folder = home / "sst2_glue"
        return _tsv_texts(folder / "train.tsv"), _tsv_texts(folder / "dev.tsv")
    if name == "sms":  # label<TAB>text, no header; split on the tab, no quotes
        raw = (home / "sms_spam_collection" / "SMSSpamCollection").read_text("utf-8")
        texts = [line.split("\t", 1)[1] for line in raw.split("\n") if line.strip()]
        assert len(texts) == 5574, len(texts)
        return _split80(texts, seed)
    if name == "waimai":
        return _split80(ds.load_waimai_reviews(data_home=home).data, seed)
    raise ValueError(name)


# --- corpus sample: word counts, the word vocabulary, a text file for spm -----
def count_corpus(paths, seq, max_tokens):
    """Counts of the first documents of each file (an equal token share each)."""
    counts, n_docs, n_chars, n_tokens = {}, [], [], 0
    for path in paths:
        docs = chars = 0
        for chunk in text_chunks(TextLines(path), 1_000_000):
            seq._count_tokens(chunk, counts)
            docs, chars = docs + len(chunk), chars + sum(map(len, chunk))
            if sum(counts.values()) - n_tokens >= max_tokens / len(paths):
                break
        n_docs.append(docs)
        n_chars.append(chars)
        n_tokens = sum(counts.values())
    return counts, n_docs, n_chars, n_tokens


def _lines(doc, width=SPM_LINE):
    """``doc`` cut into lines of at most ``width`` characters, at spaces if any."""
    start = 0
    while len(doc) - start > width:
        cut = doc.rfind(" ", start + 1, start + width)
        cut = cut if cut > start else start + width
        yield doc[start:cut].strip()
        start = cut
    yield doc[start:].strip()


def write_spm_sample(paths, n_docs, n_chars, target, out, seed):
    """Lowercased lines drawn evenly (each kept with the same probability) from
    the counted documents; about ``target`` characters in all."""
    rng, written = np.random.default_rng(seed), 0
    with open(out, "w", encoding="utf-8") as f:
        for path, docs, chars in zip(paths, n_docs, n_chars):
            keep = min(1.0, target / len(paths) / chars)
            for doc in TextLines(path, limit=docs):
                for line in _lines(doc.lower()):
                    if line and rng.random() < keep:
                        f.write(line + "\n")
                        written += len(line)
    return written


def train_spm(sample, n_pieces, folder, byte_fallback, char_coverage):
    prefix = str(Path(folder) / f"spm{n_pieces}")
    spm.SentencePieceTrainer.train(
        input=sample,
        model_prefix=prefix,
        vocab_size=n_pieces,
        model_type="unigram",
        character_coverage=char_coverage,
        byte_fallback=byte_fallback,  # characters left out -> UTF-8 byte pieces
        hard_vocab_limit=False,  # a small sample may not support n_pieces
        max_sentence_length=8192,
        num_threads=1,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def near_vocabulary(vocab):
    """Typo-shape test: letters only, >= 4 long, outside ``vocab``, and equal to
    a vocabulary word after deleting at most one character from each."""
    keys = set()
    for word in vocab:
        if word.isalpha() and len(word) >= 3:
            keys.add(word)
            keys.update(word[:i] + word[i + 1 :] for i in range(len(word)))

    def test(tok):
        if not (tok.isalpha() and len(tok) >= 4) or tok in vocab:
            return False
        return tok in keys or any(
            tok[:i] + tok[i + 1 :] in keys for i in range(len(tok))
        )

    return test


# --- measures --------------------------------------------------------------------
def share(num, den):
    return num / den if den else float("nan")


def coverage(subset, vocab):
    """Share of the subset's occurrences (token -> count) that ``vocab`` holds."""
    return share(sum(c for t, c in subset.items() if t in vocab), sum(subset.values()))


def _unreadable(sp):
    """Per piece id: True for the unknown piece and the byte pieces (characters
    the model has no piece for)."""
    return np.array(
        [sp.is_unknown(i) or sp.is_byte(i) for i in range(sp.get_piece_size())]
    )


def piece_stats(subset, sp, bad):
    """(share kept whole, mean pieces per word, share with an unknown or byte
    piece) of a subset's occurrences, each word encoded on its own."""
    if not subset:
        return (float("nan"),) * 3
    whole, length, has_bad = [], [], []
    for ids in sp.encode(list(subset), num_threads=1):
        if len(ids) > 1 and sp.id_to_piece(ids[0]) == "\u2581":
            ids = ids[1:]  # the bare word-boundary piece
        whole.append(len(ids) == 1 and not bad[ids[0]])
        length.append(len(ids))
        has_bad.append(bool(bad[ids].any()))
    n = list(subset.values())
    return tuple(float(np.average(v, weights=n)) for v in (whole, length, has_bad))


def measure_set(name, train, test, lang, vocab, counts, seq, models):
    """Every figure of one evaluation set against one corpus's vocabularies."""
    tok = seq._tokenize(test)
    n = np.bincount(tok.codes, minlength=len(tok.types))
    occ = dict(zip(tok.types, n.tolist()))
    train_counts: dict = {}
    seq._count_tokens(train, train_counts)
    # what task_sequencer adds: training tokens seen >= 2 times
    added = {t for t, c in train_counts.items() if c >= MIN_ADDED_FREQUENCY}
    added -= vocab.keys()
    extended = vocab.keys() | added
    words = {t: c for t, c in occ.items() if _HAS_WORD.search(t)}
    typo = near_vocabulary(vocab) if lang == "en" else None
    tickers: dict = {}
    for doc in test:
        for t in _TICKER.findall(doc.lower()):
            t = seq._split_function()(t)[0]  # the word the tokenizer makes of it
            tickers[t] = tickers.get(t, 0) + 1
    subsets = {
        "rare": {t: c for t, c in words.items() if counts.get(t, 0) < RARE},
        "unseen": {t: c for t, c in words.items() if t not in train_counts},
        "numbers": {t: c for t, c in words.items() if _DIGITS.fullmatch(t)},
        "typo": {t: c for t, c in words.items() if typo and typo(t)},
        "tickers": tickers,
    }
    # length units: whitespace words (English), non-space characters (Chinese)
    units = sum(len(d.split() if lang == "en" else "".join(d.split())) for d in test)
    row = {
        "set": name,
        "docs": len(test),
        "tokens": int(n.sum()),
        "tok_cov": coverage(occ, vocab),
        "type_cov": share(sum(t in vocab for t in occ), len(occ)),
        "added": len(added),
        "tok_cov_ext": coverage(occ, extended),
        "type_cov_ext": share(sum(t in extended for t in occ), len(occ)),
        "tokens_per_doc": float(tok.lengths.mean()),
        "tokens_per_unit": share(int(n.sum()), units),
        "subsets": {
            k: {
                "n": sum(sub.values()),
                "share": share(sum(sub.values()), sum(words.values())),
                "cov": coverage(sub, vocab),
                "cov_ext": coverage(sub, extended),
            }
            for k, sub in subsets.items()
        },
        "pieces": {},
    }
    lowered = [d.lower() for d in test]  # the word vocabulary is lowercased too
    for size, sp in models.items():
        bad = _unreadable(sp)
        ids = np.fromiter(chain.from_iterable(sp.encode(lowered, num_threads=1)), int)
        row["pieces"][size] = {
            "actual": sp.get_piece_size(),
            "unk": float(bad[ids].mean()),
            "per_unit": share(len(ids), units),
            "whole": piece_stats(words, sp, bad)[0],
            "per_doc": len(ids) / len(test),
            "subsets": {k: piece_stats(sub, sp, bad) for k, sub in subsets.items()},
        }
    return row


# --- report ----------------------------------------------------------------------
SUBS = ["rare", "unseen", "numbers", "typo", "tickers"]


def pct(x, digits=1):
    return "-" if x != x else f"{100 * x:.{digits}f}"


def table(header, rows):
    """A Markdown table: ``header`` and rows as strings of ``|``-separated cells."""
    return "\n".join(
        [f"| {header} |", "|" + "---|" * (header.count("|") + 1)]
        + [f"| {row} |" for row in rows]
    )


def report(samples, results):
    out = ["## Corpus samples\n"]
    rows = [
        f"{c} | {' + '.join(f'{d:,}' for d in s['docs'])} | {sum(s['chars']):,} | "
        f"{s['tokens']:,} | {s['types']:,} | {s['vocab']:,} | {pct(s['sample_cov'])} | "
        f"{s['spm_chars']:,} | {', '.join(f'{k}: {v:,}' for k, v in s['pieces'].items())} | "
        f"{s['seconds']:.0f}"
        for c, s in samples.items()
    ]
    head = "corpus | docs counted (per file) | chars | tokens | types | word vocab | vocab covers sample % | spm sample chars | pieces (target: actual) | s"
    out.append(table(head, rows))
    out.append(
        "\n## Word vocabulary (the LM's, then + task extension), test part\n\n"
        "tok/type cov: share of the test tokens / distinct test types in the LM's "
        "30k-word vocabulary; +ext: after adding the training part's tokens seen "
        f">= {MIN_ADDED_FREQUENCY} times (`task_sequencer`; +words = how many); "
        "unseen: test word tokens absent from the training part (share of the test "
        "words), and the share of them still out of vocabulary after the extension "
        "(which cannot add them).\n"
    )
    rows = [
        f"{c} | {r['set']} | {r['docs']:,} | {r['tokens']:,} | {pct(r['tok_cov'])} | "
        f"{pct(r['type_cov'])} | {r['added']:,} | {pct(r['tok_cov_ext'])} | "
        f"{pct(r['type_cov_ext'])} | {pct(r['subsets']['unseen']['share'])} | "
        f"{pct(1 - r['subsets']['unseen']['cov_ext'])}"
        for c, rs in results.items()
        for r in rs
    ]
    head = "corpus | set | test docs | tokens | tok cov % | type cov % | +words | tok cov +ext % | type cov +ext % | unseen % of words | unseen still OOV %"
    out.append(table(head, rows))
    out.append(
        "\n## Word subsets, test part: share of the test words %, coverage LM -> +ext %\n\n"
        f"rare: seen < {RARE} times in the corpus sample; unseen: absent from the "
        "training part; typo: typo-shaped (see the script); tickers: the word after "
        "`$`; `-`: none in the set.\n"
    )
    rows = []
    for c, rs in results.items():
        for r in rs:
            cells = [
                f"{pct(s['share'])} · {pct(s['cov'], 0)} -> {pct(s['cov_ext'], 0)}"
                if s["n"]
                else "-"
                for s in map(r["subsets"].get, SUBS)
            ]
            rows.append(" | ".join([c, r["set"], *cells]))
    out.append(table(" | ".join(["corpus", "set", *SUBS]), rows))
    out.append(
        "\n## Sentencepiece unigram pieces, test part\n\n"
        "pieces/word: per whitespace word (Chinese: per non-space character), next "
        "to the word tokenizer's tokens per word; whole: share of the word tokens "
        "kept as one piece; pieces/doc against word tokens/doc (x = ratio, the "
        "factor on an LSTM's sequence length).\n"
    )
    rows = [
        f"{c} | {r['set']} | {p['actual']:,} | {pct(p['unk'], 2)} | {p['per_unit']:.2f} | "
        f"{r['tokens_per_unit']:.2f} | {pct(p['whole'])} | {p['per_doc']:.1f} | "
        f"{r['tokens_per_doc']:.1f} | {p['per_doc'] / r['tokens_per_doc']:.2f}"
        for c, rs in results.items()
        for r in rs
        for p in r["pieces"].values()
    ]
    head = "corpus | set | pieces | unk+byte % | pieces/word | word tokens/word | whole % | pieces/doc | word tokens/doc | x"
    out.append(table(head, rows))
    out.append(
        "\n## Sentencepiece subsets, test part: whole % · pieces per word "
        "(· unk: % with an unknown or byte piece, if any)\n"
    )
    rows = []
    for c, rs in results.items():
        for r in rs:
            for p in r["pieces"].values():
                cells = []
                for whole, per, unk in map(p["subsets"].get, SUBS):
                    cell = "-" if whole != whole else f"{pct(whole, 0)} · {per:.2f}"
                    cells.append(cell + (f" · unk {pct(unk)}" if unk > 0 else ""))
                rows.append(" | ".join([c, r["set"], f"{p['actual']:,}", *cells]))
    out.append(table(" | ".join(["corpus", "set", "pieces", *SUBS]), rows))
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    add("--max-tokens", type=int, default=10_000_000, help="tokens counted per corpus")
    add("--spm-chars", type=int, default=8_000_000, help="characters to train spm on")
    add("--pieces", type=int, nargs="+", default=[16000, 32000])
    add("--char-coverage", type=float, default=0.9995, help="of the spm models")
    add("--no-byte-fallback", action="store_true", help="unknown piece, no bytes")
    add("--seed", type=int, default=0, help="of the 80/20 splits and the spm sample")
    add("--out", default="benchmarks/studies/vocabulary_results.md")
    args = parser.parse_args(argv)
    start = time.time()
    home = ds.shared_datasets_dir()
    if home is None:
        sys.exit("no ../shared/datasets folder (set SKLSTM_SHARED_DATASETS)")
    sets, samples, results = {}, {}, {}
    for corpus in args.corpora:
        t0 = time.time()
        files, lang = CORPORA[corpus]
        paths = [home / "unlabelled" / f for f in files]
        seq = default_sequencer()  # the language model's tokenizer
        counts, n_docs, n_chars, n_tokens = count_corpus(paths, seq, args.max_tokens)
        vocab = seq._fit_counts(counts).vocabulary_
        with tempfile.TemporaryDirectory() as tmp:
            sample = str(Path(tmp) / "sample.txt")
            spm_chars = write_spm_sample(
                paths, n_docs, n_chars, args.spm_chars, sample, args.seed
            )
            spm_args = (tmp, not args.no_byte_fallback, args.char_coverage)
            models = {k: train_spm(sample, k, *spm_args) for k in args.pieces}
        results[corpus] = []
        for name in SETS[lang]:
            if name not in sets:
                sets[name] = load_set(name, home, args.seed)
            row = measure_set(name, *sets[name], lang, vocab, counts, seq, models)
            results[corpus].append(row)
            print(f"[{corpus}] {name} done ({time.time() - start:.0f} s)", flush=True)
        samples[corpus] = {
            "docs": n_docs,
            "chars": n_chars,
            "tokens": n_tokens,
            "types": len(counts),
            "vocab": len(vocab),
            "sample_cov": share(sum(counts[t] for t in vocab), n_tokens),
            "spm_chars": spm_chars,
            "pieces": {k: m.get_piece_size() for k, m in models.items()},
            "seconds": time.time() - t0,
        }
    body = report(samples, results)
    print(body)
    wall = time.time() - start
    out = Path(args.out)
    old = out.read_text("utf-8") if out.exists() else ""
    verdict = old[old.index("## Verdict") :] if "## Verdict" in old else ""
    head = (
        "# Vocabulary study: words versus sentencepiece pieces for pretrained models\n\n"
        f"Command (from the repository root): `{shlex.join(['python', *sys.argv])}`\n\n"
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, wall time {wall:.0f} s "
        f"({wall / 60:.1f} min), one process on {platform.machine()}, Python "
        f"{platform.python_version()}, sentencepiece {spm.__version__}.\n\n"
        "Measured: coverage and sequence length only, no accuracy. Word vocabulary = "
        "`TextSequencer(max_features=30000, min_frequency=2)` fitted on the first "
        f"documents of each corpus up to {args.max_tokens:,} tokens (an equal share "
        f"per file). Sentencepiece unigram ({', '.join(map(str, args.pieces))} pieces, "
        f"character_coverage {args.char_coverage}, byte fallback "
        f"{'off' if args.no_byte_fallback else 'on'}"
        f", lowercased text) trained on about {args.spm_chars:,} characters drawn "
        "evenly from the same documents. Test parts: tweets = the `valid` split (train "
        "= `train`); sst2 = `dev.tsv` (train = the 67k phrases of `train.tsv`, so a "
        "training sentence's words count several times); sentences, sms, waimai = a "
        f"shuffled 80/20 split (seed {args.seed}).\n\n"
    )
    out.write_text(head + body + ("\n" + verdict if verdict else ""), encoding="utf-8")
    print(f"wrote {out} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
