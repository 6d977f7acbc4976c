"""Language models shipped inside the package: their files, checksums and loading.

``LSTMClassifier(pretrained="en")`` starts from a language model that sklstm
ships: a NumPy ``.npz`` file in ``sklstm/models`` (read with
``allow_pickle=False``: arrays only, nothing executed), its weights stored
in float16, its vocabulary and settings as JSON. The file is checked against
the SHA-256 recorded here before it is read, so a damaged or replaced file is
an error, never a model that predicts garbage. It is read the first time it
is asked for (``import sklstm`` does not touch it) and kept for the process.

:func:`write_model_file` turns a fitted :class:`~sklstm.LSTMLanguageModel`
into such a file (``benchmarks/ship_model.py``); docs/pretraining.rst has the
model card.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from sklstm._language_model import LSTMLanguageModel
from sklstm._lm_module import LanguageNet
from sklstm._text import TextSequencer

__all__ = [
    "SHIPPED",
    "ShippedModelError",
    "pretrained_language_model",
    "read_model_file",
    "write_model_file",
]

_FOLDER = Path(__file__).resolve().parent / "models"
_FORMAT = "sklstm-shipped-language-model"

#: name -> (file in sklstm/models, its SHA-256); the model card is in
#: docs/pretraining.rst
SHIPPED: dict = {
    # English Wikipedia (CC BY-SA 3.0), embedding started from GloVe 6B (PDDL):
    # benchmarks/pretrain.py wikipedia --glove, then benchmarks/ship_model.py
    "en": (
        "lm_en.npz",
        "db57ad1defcaed7cc6ae390c799ab23e55c02907cfb520de2338667e3fae2556",
    ),
}


class ShippedModelError(ValueError):
    """A shipped model's file is missing or does not match its checksum."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_model_file(lm: LSTMLanguageModel, path, *, card: dict | None = None) -> str:
    """Write ``lm`` as a shipped model file (float16 weights); return its SHA-256."""
    params = {
        k: v
        for k, v in lm.get_params(deep=False).items()
        if v is None or isinstance(v, bool | int | float | str)
    }
    params.pop("checkpoint", None)
    seq = lm.sequencer_
    seq_params = {
        k: v
        for k, v in seq.get_params().items()
        if k not in ("tokenizer", "vocabulary")
    }
    if seq.get_params()["tokenizer"] is not None:
        raise TypeError("A shipped model cannot hold a tokenizer function.")
    tokens = sorted(seq.vocabulary_, key=seq.vocabulary_.get)
    if [seq.vocabulary_[t] for t in tokens] != list(range(2, 2 + len(tokens))):
        raise ValueError("The vocabulary's ids must be 2, 3, ... without gaps.")
    meta = {
        "format": _FORMAT,
        "params": params,
        "sequencer": seq_params,
        "vocabulary": tokens,
        "module_kwargs": lm._module_kwargs,
        "coverage": lm.vocabulary_coverage_,
        "card": card or {},
    }
    arrays = {
        f"w:{k}": v.detach().cpu().to(torch.float16).numpy()
        for k, v in lm.module_.state_dict().items()
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return _sha256(Path(path))


def read_model_file(path, sha256: str) -> LSTMLanguageModel:
    """The fitted language model a shipped model file holds, checked first."""
    path = Path(path)
    if not path.is_file():
        raise ShippedModelError(
            f"The model file {path} is missing; reinstall sklstm "
            "(pip install --force-reinstall sklstm)."
        )
    if _sha256(path) != sha256:
        raise ShippedModelError(
            f"The model file {path} does not match its checksum: it is damaged "
            "or was replaced. Reinstall sklstm (pip install --force-reinstall "
            "sklstm)."
        )
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        state = {
            k[2:]: torch.from_numpy(data[k].astype(np.float32))
            for k in data.files
            if k.startswith("w:")
        }
    if meta.get("format") != _FORMAT:
        raise ShippedModelError(f"{path} is not a shipped sklstm language model.")
    lm = LSTMLanguageModel(**meta["params"])
    seq = TextSequencer(**meta["sequencer"])
    seq.vocabulary_ = {t: i for i, t in enumerate(meta["vocabulary"], start=2)}
    seq.max_len_ = int(seq.max_len or 1)
    kwargs = meta["module_kwargs"]
    with torch.random.fork_rng(devices=[]):
        module = LanguageNet(**kwargs)
    module.load_state_dict(state)
    lm.sequencer_ = seq
    lm._module_kwargs = kwargs
    lm.module_ = module.eval()
    lm.optimizer_ = lm._optimizer(module, torch.device("cpu"))
    lm.vocabulary_coverage_ = float(meta["coverage"])
    lm.n_iter_ = lm.n_steps_ = lm.n_tokens_seen_ = 0
    lm.loss_curve_, lm.history_ = [], []
    lm.card_ = meta["card"]
    return lm


@functools.cache
def _cached(name: str) -> LSTMLanguageModel:
    file, sha256 = SHIPPED[name]
    return read_model_file(_FOLDER / file, sha256)


def shipped(name: str) -> LSTMLanguageModel:
    """The shipped model ``name``, read once per process (shared: read-only)."""
    if name not in SHIPPED:
        known = ", ".join(repr(k) for k in SHIPPED) or "none yet"
        raise ValueError(
            f"sklstm ships no language model named {name!r} (shipped: {known}). "
            "Pass a fitted LSTMLanguageModel instead."
        )
    return _cached(name)


def pretrained_language_model(name="en"):
    """A copy of a language model shipped with sklstm, to inspect or train on.

    ``LSTMClassifier(pretrained="en")`` starts from the same model; this
    gives one of your own: fine-tune it on your texts with ``partial_fit``,
    score texts with ``perplexity``, pass it as ``pretrained``.

    Parameters
    ----------
    name : str, default="en"
        The model: ``"en"``, English, pre-trained on Wikipedia (see
        :ref:`pretraining`).

    Returns
    -------
    lm : LSTMLanguageModel
        A fitted language model (a copy: changing it changes nothing else).
    """
    return copy.deepcopy(shipped(os.fspath(name)))
