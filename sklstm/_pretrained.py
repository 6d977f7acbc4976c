"""Starting an estimator from a pretrained language model (``pretrained=``).

What the estimators need from a fitted :class:`~sklstm.LSTMLanguageModel`:

* the model itself: an instance, or the name of one shipped with sklstm
  (:func:`check_pretrained`, :mod:`sklstm._shipped`);
* its tokenizer and vocabulary, extended with the words of the task's
  training texts that it lacks (:func:`task_sequencer`), and the texts turned
  into token ids with them (:func:`text_ids`). The estimator tokenizes raw
  text itself, so the text's tokenization and the model's vocabulary cannot
  disagree; token ids from elsewhere are refused;
* the network's sizes (:func:`network_settings`) and its weights, copied
  into the new network after it is initialised (:func:`copy_weights`); rows
  of the embedding for the added words start at the mean of the pretrained
  vectors, as fastai starts them.

How the copied network is fine-tuned (gradual unfreezing, a slanted
triangular schedule) is :mod:`sklstm._callbacks`'s part.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from sklstm._ids import FIRST_TOKEN_ID, PAD_ID
from sklstm._language_model import LSTMLanguageModel
from sklstm._shipped import shipped
from sklstm._text import _check_texts

__all__ = [
    "check_pretrained",
    "clone_keeping_pretrained",
    "pretrained_input",
    "copy_weights",
    "fine_tuned_language_model",
    "network_settings",
    "task_sequencer",
    "text_ids",
    "training_texts",
]

#: a word of the task's training texts that the pretrained vocabulary lacks
#: gets an embedding row when it occurs at least this often
MIN_ADDED_FREQUENCY = 2

#: the settings a pretrained network fixes, with the value that means "take
#: it from the language model"
_FIXED = {
    "embedding_dim": "auto",
    "hidden_size": "auto",
    "num_layers": 1,
    "cell": "lstm",
    "bidirectional": False,
    "proj_size": 0,
    "embeddings": None,
}


def check_pretrained(pretrained) -> LSTMLanguageModel | None:
    """The fitted language model that ``pretrained`` names (None: none)."""
    if pretrained is None:
        return None
    if isinstance(pretrained, str):
        return shipped(pretrained)
    if isinstance(pretrained, LSTMLanguageModel):
        check_is_fitted(
            pretrained,
            "module_",
            msg=(
                "The language model given as pretrained is not fitted yet. Fit it "
                "on unlabelled text first: LSTMLanguageModel().fit(texts)."
            ),
        )
        return pretrained
    raise TypeError(
        f"pretrained must be a fitted sklstm.LSTMLanguageModel, the name of a "
        f"shipped model ('en') or None, got "
        f"{type(pretrained).__module__}.{type(pretrained).__qualname__}."
    )


def check_settings(est, lm: LSTMLanguageModel) -> None:
    """A ValueError for a setting of ``est`` that the pretrained network fixes."""
    for name, default in _FIXED.items():
        value = getattr(est, name)
        if name == "embeddings":
            ok = value is None
        else:
            ok = value == default or value == getattr(lm, name, default)
        if not ok:
            raise ValueError(
                f"{name}={value!r} cannot be used with pretrained: the network is "
                f"the pretrained language model's ({_describe(lm)}). Leave {name} "
                f"at its default ({default!r}), or train from scratch with "
                "pretrained=None."
            )


def _describe(lm: LSTMLanguageModel) -> str:
    return (
        f"embedding_dim={lm.embedding_dim}, hidden_size={lm.hidden_size}, "
        f"num_layers={lm.num_layers}, one-directional LSTM"
    )


def network_settings(lm: LSTMLanguageModel, sequencer) -> dict:
    """``SequenceNet`` arguments that the pretrained network fixes (with the
    task's extended vocabulary ``sequencer``)."""
    return {
        "n_tokens": max(sequencer.vocabulary_.values(), default=1) + 1,
        "embedding_dim": lm.embedding_dim,
        "hidden_size": lm.hidden_size,
        "num_layers": lm.num_layers,
        "cell": "lstm",
        "bidirectional": False,
        "proj_size": 0,
    }


def task_sequencer(lm: LSTMLanguageModel, docs: list):
    """The language model's tokenizer, extended with the task's frequent words.

    Returns ``(sequencer, coverage, n_added)``: a fitted
    :class:`~sklstm.TextSequencer` with the pretrained vocabulary (same ids)
    plus, after it, the tokens of ``docs`` that it lacks and that occur at
    least :data:`MIN_ADDED_FREQUENCY` times; the share of the tokens of
    ``docs`` that the pretrained vocabulary holds; how many were added.
    """
    base = lm.sequencer_
    counts: dict = {}
    base._count_tokens(docs, counts)
    vocab = dict(base.vocabulary_)
    total = sum(counts.values())
    known = sum(c for tok, c in counts.items() if tok in vocab)
    next_id = max(vocab.values(), default=FIRST_TOKEN_ID - 1) + 1
    added = [
        tok
        for tok, c in sorted(counts.items(), key=lambda kv: -kv[1])
        if c >= MIN_ADDED_FREQUENCY and tok not in vocab
    ]
    for i, tok in enumerate(added):
        vocab[tok] = next_id + i
    sequencer = clone(base)
    sequencer.vocabulary_ = vocab
    sequencer.max_len_ = 1
    coverage = known / total if total else 1.0
    return sequencer, coverage, len(added)


def training_texts(X, who: str) -> list:
    """The training documents as a list of str (token ids: a clear error)."""
    return _texts(X, who, fitting=True)


def text_ids(sequencer, X, who: str) -> np.ndarray:
    """Padded token ids of the texts ``X`` (each row as long as its text)."""
    docs = _texts(X, who, fitting=False)
    ids, lengths = sequencer._flat_ids(docs)
    width = max(int(lengths.max()) if len(lengths) else 1, 1)
    out = np.zeros((len(lengths), width), dtype=np.int64)
    out[np.arange(width) < lengths[:, None]] = ids
    return out


def _texts(X, who: str, *, fitting: bool) -> list:
    if isinstance(X, np.ndarray) and X.dtype.kind in "biufc":
        raise TypeError(_not_text(who))
    if (
        isinstance(X, list | tuple)
        and X
        and isinstance(X[0], np.ndarray | list | tuple | int | float)
    ):
        raise TypeError(_not_text(who))
    return _check_texts(X, fitting=fitting)


def _not_text(who: str) -> str:
    return (
        f"{who} starts from a pretrained language model and reads raw text with "
        "that model's own tokenizer and vocabulary, so that the two always agree: "
        "pass the texts themselves (a list or column of str), not token ids or "
        "numbers. In a pipeline, drop the TextSequencer: "
        f"{who}(pretrained=lm).fit(texts, y)."
    )


def copy_weights(module, lm: LSTMLanguageModel) -> None:
    """Copy the pretrained embedding and LSTM layers into an initialised network.

    Rows of the embedding beyond the pretrained vocabulary (words the task
    added) start at the mean of the pretrained vectors; the padding row stays
    zero.
    """
    source = lm.module_
    with torch.no_grad():
        emb = module.embedding.weight
        pre = source.embedding.weight.to(emb.device, emb.dtype)
        n = pre.shape[0]
        emb[:n] = pre
        if emb.shape[0] > n:
            emb[n:] = pre[FIRST_TOKEN_ID:].mean(dim=0)
        emb[PAD_ID].zero_()
        for mine, theirs in zip(module.forward_layers, source.forward_layers):
            mine.load_state_dict(theirs.state_dict())


def fine_tuned_language_model(
    lm: LSTMLanguageModel, docs: list, epochs: int, seed: int, verbose: int
):
    """A copy of ``lm`` trained ``epochs`` more passes on the task's texts.

    ULMFiT's second stage: the language model adapts to the task's kind of
    text before the classifier starts from it. ``lm`` itself is left as it is.
    """
    tuned = copy.deepcopy(lm)
    tuned.set_params(checkpoint=None, accelerator=None, random_state=seed, verbose=0)
    if verbose:
        print(
            f"Fine-tuning the language model on the {len(docs):,} training texts "
            f"({epochs} epoch{'s' if epochs > 1 else ''})"
        )
    for _ in range(epochs):
        tuned.partial_fit(docs)
    return tuned


def pretrained_input(est, X, *, warm: bool, seed: int):
    """``(X as token ids, language model, fitted attributes)`` for a fit of ``est``.

    Without ``pretrained``: ``(X, None, {})``. A first fit extends the
    pretrained vocabulary with the training texts' words (``sequencer_``,
    ``vocabulary_coverage_``) and, with ``lm_epochs``, fine-tunes a copy of
    the language model on them first; continuing a fit (``warm``) keeps
    the vocabulary it has.
    """
    who = type(est).__name__
    lm = check_pretrained(est.pretrained)
    if lm is None:
        if warm and "sequencer_" in est.__dict__:
            raise ValueError(
                f"This {who} was fitted from a pretrained language model; "
                "continuing it (warm_start, partial_fit) needs the same "
                "pretrained setting. Set pretrained back, or refit from scratch."
            )
        return X, None, {}
    check_settings(est, lm)
    if warm:
        return text_ids(est.sequencer_, X, who), None, {}
    docs = training_texts(X, who)
    if est.lm_epochs:
        lm = fine_tuned_language_model(
            lm, docs, est.lm_epochs, seed=seed, verbose=est.verbose
        )
    sequencer, coverage, n_added = task_sequencer(lm, docs)
    if est.verbose:
        print(
            f"The pretrained vocabulary covers {coverage:.1%} of the training "
            f"tokens; {n_added:,} words of the training texts were added"
        )
    attrs = {"sequencer_": sequencer, "vocabulary_coverage_": coverage}
    return text_ids(sequencer, docs, who), lm, attrs


def clone_keeping_pretrained(est, default_clone):
    """A clone of ``est`` that starts from the same fitted language model.

    scikit-learn's clone clones every estimator parameter, which would give
    the clone an unfitted copy of the language model. It is shared instead
    of copied: fit reads it and never changes it. ``default_clone`` is the
    usual clone, used when ``pretrained`` holds no language model.
    """
    if not isinstance(est.pretrained, LSTMLanguageModel):
        return default_clone()
    params = {
        k: v if k == "pretrained" else clone(v, safe=False)
        for k, v in est.get_params(deep=False).items()
    }
    new = type(est)(**params)
    for attr in ("_metadata_request", "_sklearn_output_config"):
        if attr in est.__dict__:
            setattr(new, attr, copy.deepcopy(est.__dict__[attr]))
    return new
