"""Turn a pre-trained language model into the file sklstm ships (``pretrained="en"``).

    python benchmarks/pretrain.py wikipedia --glove --out runs/   # ~1.5 h of CPU, resumable
    python benchmarks/ship_model.py runs/wikipedia_glove.sklstm runs/wikipedia_glove.json

writes ``sklstm/models/lm_en.npz`` (float16 weights, vocabulary and settings;
no pickle) and prints the SHA-256 to record in ``sklstm/_shipped.py``
(``SHIPPED``) and the model card fields for docs/pretraining.rst. Only a
model trained on text that may be redistributed can ship: the Wikipedia
corpus (CC BY-SA 3.0, attributed in the card), not the IMDB or Weibo text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pretrain import CORPORA, Corpus, count_docs, unigram_perplexity  # noqa: E402

import sklstm  # noqa: E402
from sklstm._shipped import read_model_file, write_model_file  # noqa: E402
from sklstm.datasets import shared_datasets_dir  # noqa: E402

#: corpora whose terms allow shipping what is trained on them
SHIPPABLE = {"wikipedia"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the .sklstm file pretrain.py wrote")
    parser.add_argument("record", help="the .json record pretrain.py wrote")
    parser.add_argument("--name", default="en")
    args = parser.parse_args(argv)
    record = json.loads(Path(args.record).read_text())
    if record["corpus"] not in SHIPPABLE:
        sys.exit(f"{record['corpus']!r} may not be redistributed: nothing written")
    lm = sklstm.load(args.model)
    card = {
        k: record[k]
        for k in (
            "command",
            "corpus",
            "files",
            "training_documents",
            "seed",
            "tokens_seen",
            "steps",
            "held_out_perplexity",
            "unigram_held_out_perplexity",
            "hardware",
        )
        if k in record
    }
    card["license"] = (
        "Trained on English Wikipedia text (CC BY-SA 3.0, Wikipedia "
        "contributors); the weights are distributed under CC BY-SA 3.0."
    )
    if any("glove" in f for f in record.get("files", {})):
        card["license"] += (
            " The embedding started from the GloVe 6B vectors (Pennington, "
            "Socher and Manning 2014; Public Domain Dedication and License)."
        )
    # out of domain: the last 1,000 IMDB reviews (never trained on here),
    # beside a unigram model of the training corpus on the same text
    paths = [shared_datasets_dir() / "unlabelled" / p for p in CORPORA["imdb"]]
    n_imdb = count_docs(paths)
    imdb = Corpus(paths, n_imdb - 1000, None)
    train = [
        shared_datasets_dir() / "unlabelled" / p for p in CORPORA[record["corpus"]]
    ]
    card["imdb_perplexity"] = lm.perplexity(imdb)
    card["imdb_unigram_perplexity"] = unigram_perplexity(
        lm, Corpus(train, 0, 20000), imdb
    )
    out = ROOT / "sklstm" / "models" / f"lm_{args.name}.npz"
    out.parent.mkdir(exist_ok=True)
    sha = write_model_file(lm, out, card=card)
    back = read_model_file(out, sha)  # the file reads back
    assert back.sequencer_.vocabulary_ == lm.sequencer_.vocabulary_
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size / 2**20:.1f} MiB")
    print(f'SHIPPED["{args.name}"] = ("{out.name}", "{sha}")')
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
