"""``sklstm.explain``: why a fitted model predicted what it did, per token or step.

Resolves what is explained (a fitted estimator or a Pipeline ending in one,
raw text through a :class:`~sklstm.TextSequencer`), which scalar is attributed
(the target class's probability, a regressor's output in the units of ``y``)
and hands the validated sequences to the integrated gradients of
:mod:`sklstm._attribution`. Tokens are given back as the document's own words,
out-of-vocabulary ones included (they get 0: the model reads them as the
baseline). The result is an :class:`Explanation`, a list with pictures
(:mod:`sklstm._explain_plot`).
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklstm import _explain_plot
from sklstm._attribution import integrated_gradients
from sklstm._base import _BaseLSTM
from sklstm._inference import network_outputs
from sklstm._pretrained import text_ids
from sklstm._text import TextSequencer, _check_texts
from sklstm._validation import check_sequences

__all__ = ["Explanation", "explain"]


class Explanation(list):
    """Attributions of :func:`explain`: a list with one entry per row of ``X``.

    Each entry is a list of ``(token, attribution)`` pairs (raw text through a
    :class:`~sklstm.TextSequencer`), a ``(length,)`` array (token ids) or a
    ``(length, n_features)`` array (numeric series), over the row's real steps.
    In a notebook, text renders with its tokens highlighted
    (``_repr_html_``); :meth:`plot` draws one row with matplotlib.

    Attributes
    ----------
    outputs : ndarray of shape (n_samples,)
        The explained value at each input: the target class's probability, or
        a regressor's prediction.
    baseline_outputs : ndarray of shape (n_samples,)
        The same value at the baseline (padding/out-of-vocabulary tokens, or
        the training mean of each feature). Each row's attributions sum to
        ``outputs - baseline_outputs`` (completeness).
    targets : ndarray of shape (n_samples,)
        The explained class label per row (regressors: the output index).
    inputs : list
        What each row's attributions are aligned with: token lists, id
        arrays or the numeric series (real steps only).
    """

    def __init__(self, entries, *, outputs, baseline_outputs, targets, inputs, kind):
        super().__init__(entries)
        self.outputs = outputs
        self.baseline_outputs = baseline_outputs
        self.targets = targets
        self.inputs = inputs
        self.kind = kind

    def _repr_html_(self):
        if self.kind == "numeric":
            return None  # no text to show: plot() draws the heatmap
        docs = (
            self
            if self.kind == "text"
            else [
                list(zip(map(str, ids), attr)) for ids, attr in zip(self.inputs, self)
            ]
        )
        return _explain_plot.text_html(docs, self.targets, self.outputs)

    def plot(self, i: int = 0, *, ax=None):
        """Draw row ``i``: highlighted tokens, or a time x channel heatmap.

        Parameters
        ----------
        i : int, default=0
            Which row of ``X``.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        ax : matplotlib Axes
        """
        title = f"target {self.targets[i]!r}: {self.outputs[i]:.3g} (baseline "
        title += f"{self.baseline_outputs[i]:.3g})"
        if self.kind == "numeric":
            return _explain_plot.plot_series(
                self[i], self.inputs[i], ax=ax, title=title
            )
        pairs = self[i]
        if self.kind == "tokens":
            pairs = list(zip(map(str, self.inputs[i]), self[i]))
        return _explain_plot.plot_text(pairs, ax=ax, title=title)


def _final_estimator(model):
    """(fitted sklstm estimator, transform of X or None, TextSequencer or None)."""
    if isinstance(model, Pipeline):
        est = model[-1]
        head = model[:-1] if len(model) > 1 else None
        seq = model[-2] if len(model) > 1 else None
        if not isinstance(seq, TextSequencer):
            seq = None
    else:
        est, head, seq = model, None, None
    if not isinstance(est, _BaseLSTM):
        raise TypeError(
            "explain needs a fitted LSTMClassifier or LSTMRegressor, or a Pipeline "
            f"ending in one; got {type(est).__name__}."
        )
    check_is_fitted(est, "net_")
    return est, head, seq


def _document_tokens(seq: TextSequencer, X, *, truncated: bool = True) -> list:
    """Each document's tokens as the model reads them (after truncation to
    the sequencer's width, where the model reads padded ids)."""
    tokens = seq._tokenize(_check_texts(X, fitting=False))
    types = np.array(tokens.types + [""], dtype=object)
    ends = np.cumsum(tokens.lengths)
    words = np.split(types[tokens.codes], ends[:-1]) if len(ends) else []
    if not truncated:
        return [w.tolist() for w in words]
    keep = seq.max_len_
    if seq.truncating == "pre":
        return [w[max(0, len(w) - keep) :].tolist() for w in words]
    return [w[:keep].tolist() for w in words]


def _targets(est, target, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(output index, label) explained per row."""
    n, n_outputs = outputs.shape
    if not est._is_classifier:
        if target is None:
            if n_outputs > 1:
                raise ValueError(
                    f"This regressor has {n_outputs} outputs: pass target=<output "
                    "index> to say which one to explain."
                )
            target = 0
        idx = np.broadcast_to(np.asarray(target), (n,))
        if idx.dtype.kind not in "iu" or ((idx < 0) | (idx >= n_outputs)).any():
            raise ValueError(
                f"target must be an output index in [0, {n_outputs}) (or one per "
                f"row); got {target!r}."
            )
        return idx.astype(np.int64), idx.copy()
    classes = est.classes_
    if target is None:
        idx = outputs.argmax(axis=1)
        return idx, classes[idx]
    labels = np.asarray(target)
    if labels.ndim == 0:
        labels = np.full(n, labels.item(), dtype=labels.dtype)
    elif labels.shape != (n,):
        raise ValueError(
            f"target must be one class label, or one per row of X ({n}); got "
            f"shape {labels.shape}."
        )
    idx = np.searchsorted(classes, labels)
    unknown = (idx >= len(classes)) | (
        classes[np.minimum(idx, len(classes) - 1)] != labels
    )
    if unknown.any():
        raise ValueError(
            f"target {labels[unknown][0]!r} is not a class of this model "
            f"(classes_={classes.tolist()}); pass one of them, or None for the "
            "predicted class."
        )
    return idx.astype(np.int64), labels


def _readout(est):
    """The attributed scalar from the network's outputs and a target index."""
    if not est._is_classifier:
        scale = torch.as_tensor(np.atleast_1d(est._y_scale), dtype=torch.float64)
        mean = torch.as_tensor(np.atleast_1d(est._y_mean), dtype=torch.float64)

        def value(out, t):
            return (
                out.gather(1, t[:, None]).squeeze(1) * scale.to(out.device)[t]
                + mean.to(out.device)[t]
            )

        return value
    if est._multilabel:
        return lambda out, t: torch.sigmoid(out.gather(1, t[:, None]).squeeze(1))
    return lambda out, t: torch.softmax(out, dim=1).gather(1, t[:, None]).squeeze(1)


#: completeness tolerance (relative to ``|f(x) - f(baseline)|``) before a warning
COMPLETENESS_RTOL = 1e-2


def _check_completeness(attributions, values, base_values, n_steps) -> None:
    """Warn where the attributions do not add up to the change they explain."""
    sums = np.array([a.sum() for a in attributions])
    delta = values - base_values
    bad = np.abs(sums - delta) > COMPLETENESS_RTOL * np.abs(delta) + 1e-6
    if bad.any():
        warnings.warn(
            f"For {int(bad.sum())} of {len(bad)} rows the attributions do not sum "
            f"to f(x) - f(baseline) within {COMPLETENESS_RTOL:g} (n_steps="
            f"{n_steps}): the network changes abruptly somewhere between the "
            "baseline and those inputs. Read their attributions with care; more "
            "n_steps can help when the change is merely steep.",
            stacklevel=3,
        )


def explain(model, X, *, target=None, n_steps=50):
    """Attribute each prediction to its tokens or time steps.

    Integrated gradients (Sundararajan et al. 2017) from a baseline to each
    input, inside each sequence's own length: on the embedding output for
    token ids (the baseline puts the out-of-vocabulary embedding at every real
    token), on the input itself for numeric series (the baseline is the
    training mean of each feature, what the network standardises by). The
    path integral uses ``n_steps`` Gauss-Legendre nodes; with the default 50
    the attributions of each row sum to ``f(x) - f(baseline)`` within 1e-2
    relative (completeness; worst of 1,000 tweets: 2e-4). Max pooling is only
    piecewise smooth and may need a few hundred steps, and a recurrent
    network can also switch abruptly somewhere on the path: rows that miss
    half of 1e-2 are integrated again by adaptive bisection of the path
    (6 nodes per segment, at most 32 segments), and a warning names how many
    rows still miss 1e-2. Padding gets exactly 0, and out-of-vocabulary
    tokens too (the model reads them as the baseline).

    What is attributed: for a classifier, the probability of the predicted
    class (or of ``target``); for multilabel classifiers, the target label's
    probability; for a regressor, its prediction in the units of ``y``.

    Parameters
    ----------
    model : LSTMClassifier, LSTMRegressor or Pipeline
        Fitted; a Pipeline must end in one of the two (its other steps
        transform ``X`` first). With a :class:`~sklstm.TextSequencer` just
        before the estimator, ``X`` is raw text and attributions come per
        token.
    X : array-like or list
        Input as the model takes it.
    target : label, array-like of labels or int, default=None
        Classifiers: the class whose probability is explained, one for all
        rows or one per row; None explains each row's predicted class.
        Regressors: the output index (needed with several outputs).
    n_steps : int, default=50
        Quadrature nodes of the path integral: the cost is about ``n_steps``
        forward and backward passes.

    Returns
    -------
    explanation : Explanation
        A list with one entry per row of ``X``, in order: ``(token,
        attribution)`` pairs for raw text, a ``(length,)`` array for token ids,
        a ``(length, n_features)`` array for numeric series. Its
        ``outputs``, ``baseline_outputs`` and ``targets`` say what was
        explained.

    See Also
    --------
    LSTMClassifier.attention_weights : what ``pooling="attention"`` looks at.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor, explain
    >>> X = np.random.default_rng(0).normal(size=(20, 6))
    >>> reg = LSTMRegressor(hidden_size=4, max_epochs=2, random_state=0)
    >>> reg = reg.fit(X, X[:, 2])
    >>> e = explain(reg, X[:2])
    >>> e[0].shape
    (6, 1)
    >>> bool(np.isclose(e[0].sum(), e.outputs[0] - e.baseline_outputs[0], rtol=1e-2))
    True
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}.")
    est, head, seq = _final_estimator(model)
    truncated = True
    if "sequencer_" in est.__dict__:  # started from a pretrained model: raw text
        seq, truncated = est.sequencer_, False
        Xt = text_ids(seq, X, type(est).__name__)
    else:
        Xt = X if head is None else head.transform(X)
    seqs, _, _ = check_sequences(est, Xt, reset=False, fitted=est._input_spec())
    module = est.net_.module_
    outputs = network_outputs(
        module, seqs, n_tokens=est._n_tokens, n_outputs=est._n_outputs
    )
    idx, labels = _targets(est, target, outputs)
    attributions, values, base_values = integrated_gradients(
        module,
        seqs,
        _readout(est),
        idx,
        n_tokens=est._n_tokens,
        n_steps=n_steps,
        refine_rtol=COMPLETENESS_RTOL / 2,
    )
    _check_completeness(attributions, values, base_values, n_steps)
    lengths = seqs.lengths
    if seq is not None:
        kind = "text"
        inputs = _document_tokens(seq, X, truncated=truncated)
        # an empty document is one padding step: it has no token
        entries = [
            list(zip(words, a[: len(words)].tolist()))
            for words, a in zip(inputs, attributions)
        ]
    elif seqs.kind == "tokens":
        kind = "tokens"
        inputs = [row[:k] for row, k in zip(seqs.data, lengths)]
        entries = attributions
    else:
        kind = "numeric"
        data = seqs.data if seqs.data.ndim == 3 else seqs.data[:, :, None]
        inputs = [row[:k] for row, k in zip(data, lengths)]
        entries = attributions
    return Explanation(
        entries,
        outputs=values,
        baseline_outputs=base_values,
        targets=labels,
        inputs=inputs,
        kind=kind,
    )
