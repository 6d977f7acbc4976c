"""Sequence input: validation, lengths and length-bucketed batching.

One rule decides how an input ``X`` is read (see :ref:`input_conventions`):

* a 2-D **integer** array ``(n_samples, max_len)`` holds token ids, 0 = padding at
  the end, 1 = out-of-vocabulary; each row's length is the position of its last
  non-zero id + 1. This is what :class:`~sklstm.TextSequencer` returns.
* a 2-D **float** array ``(n_samples, n_timesteps)`` holds univariate series of
  equal length. Its width must not change between ``fit`` and ``predict``.
* a 3-D **float** array ``(n_samples, n_timesteps, n_features)`` holds
  multivariate series (batch first, channels last, as in PyTorch and Keras).
* a **list** of arrays of different lengths holds variable-length sequences:
  1-D integer arrays are token-id sequences; 1-D float arrays are univariate
  series; 2-D float arrays ``(n_timesteps_i, n_features)`` are multivariate.

For token ids, 3-D arrays and lists the number of time steps is free at predict
time; for 3-D arrays and lists the number of features per step must match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from sklstm._compat import validate_data

__all__ = ["Sequences", "check_sequences", "SequenceDataset", "BucketBatchLoader"]


@dataclass
class Sequences:
    """Validated sequences: a padded array plus each row's own length.

    ``data`` is the padded array: integer ``(n, T)`` for tokens, or float
    ``(n, T)`` / ``(n, T, F)`` for numeric series (a 2-D float array is read as
    ``(n, T, 1)`` without a copy). ``lengths`` are int64, at least 1.
    """

    data: np.ndarray
    lengths: np.ndarray
    kind: str  # "tokens" or "numeric"

    @property
    def n_features(self) -> int:
        if self.kind == "tokens":
            return 1
        return 1 if self.data.ndim == 2 else self.data.shape[2]

    def __len__(self) -> int:
        return self.data.shape[0]


def _is_ragged_list(X) -> bool:
    """True for a list/tuple whose items are sequences of differing lengths."""
    if not isinstance(X, list | tuple) or len(X) == 0:
        return False
    first = X[0]
    if isinstance(first, str | bytes):
        return False
    if not hasattr(first, "__len__"):
        return False
    try:
        lens = {len(item) for item in X}
    except TypeError:
        return False
    if len(lens) > 1:
        return True
    # Equal lengths: a list of 2-D items still needs the list path only when the
    # items themselves are arrays of different widths; np.asarray handles the rest.
    return False


def _string_error(estimator_name: str) -> TypeError:
    return TypeError(
        f"{estimator_name} got text (strings), but it needs numbers: token-id "
        "sequences or numeric series. Turn raw text into padded token ids first, "
        "e.g. make_pipeline(TextSequencer(), "
        f"{estimator_name}()) -- TextSequencer is in sklstm."
    )


def _lengths_from_tokens(data: np.ndarray) -> np.ndarray:
    """Length of each row = position of its last non-zero id + 1 (at least 1)."""
    if data.shape[1] == 0:
        return np.ones(data.shape[0], dtype=np.int64)
    nonzero = data != 0
    # index of the last True per row: width - argmax over the reversed row
    last = data.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    last[~nonzero.any(axis=1)] = 1
    return last.astype(np.int64, copy=False)


def _check_token_values(data: np.ndarray) -> None:
    if data.size and data.min() < 0:
        row = int(np.nonzero((data < 0).any(axis=1))[0][0])
        raise ValueError(
            f"Token ids must be >= 0 (0 = padding, 1 = out-of-vocabulary); row {row} "
            f"holds {int(data[row].min())}. If these are numeric values rather than "
            "token ids, pass them as a float array (X.astype(float))."
        )


def _ragged_to_sequences(X, estimator_name: str) -> Sequences:
    """Pad a list of variable-length arrays into one array plus lengths."""
    items = []
    for i, item in enumerate(X):
        if isinstance(item, str | bytes):
            raise _string_error(estimator_name)
        try:
            arr = np.asarray(item)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Sequence {i} could not be read as a numeric array ({exc})."
            ) from None
        if arr.dtype.kind in "OUS":
            if any(isinstance(v, str) for v in arr.ravel()):
                raise _string_error(estimator_name)
            raise TypeError(
                f"Sequence {i} has dtype {arr.dtype}; each sequence must be an "
                "array of numbers (integer token ids or float values)."
            )
        if arr.dtype.kind == "c":
            raise ValueError("Complex data not supported; pass real numbers.")
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"Sequence {i} has {arr.ndim} dimensions; each item of a list must "
                "be 1-D (n_timesteps,) or 2-D (n_timesteps, n_features)."
            )
        if arr.shape[0] == 0:
            raise ValueError(
                f"Sequence {i} is empty (length 0). Every sequence needs at least "
                "one time step; drop empty sequences or pad them with one value."
            )
        items.append(arr)

    integer = all(a.dtype.kind in "iu" for a in items) and all(
        a.ndim == 1 for a in items
    )
    lengths = np.fromiter((a.shape[0] for a in items), dtype=np.int64, count=len(items))
    T = int(lengths.max())
    n = len(items)
    if integer:
        dtype = np.result_type(*[a.dtype for a in items])
        data = np.zeros((n, T), dtype=dtype)
        for i, a in enumerate(items):
            data[i, : a.shape[0]] = a
        _check_token_values(data)
        # a sequence of only padding ids still counts its own length
        return Sequences(data, lengths, "tokens")

    widths = {1 if a.ndim == 1 else a.shape[1] for a in items}
    if len(widths) > 1:
        raise ValueError(
            f"All sequences must have the same number of features per time step; "
            f"found {sorted(widths)}."
        )
    F = widths.pop()
    data = np.zeros((n, T, F), dtype=np.float32)
    for i, a in enumerate(items):
        data[i, : a.shape[0]] = a.reshape(a.shape[0], F)
    if not np.isfinite(data).all():
        bad = int(np.nonzero(~np.isfinite(data).reshape(n, -1).all(axis=1))[0][0])
        raise ValueError(
            f"Input X contains NaN or infinity (in sequence {bad}). Remove or "
            "impute missing values first; for unequal lengths pass a list of "
            "arrays of different lengths instead of NaN padding."
        )
    return Sequences(data, lengths, "numeric")


def check_sequences(
    estimator,
    X,
    y=None,
    *,
    reset: bool,
    y_numeric: bool = False,
    multi_output: bool = False,
):
    """Validate ``X`` (and ``y``) for an sklstm estimator.

    Sets ``n_features_in_`` (and ``feature_names_in_``) when ``reset=True``,
    plus the private ``_input_kind`` and ``_n_step_features``; when
    ``reset=False`` checks the input against them.

    Returns
    -------
    seqs : Sequences
    y : ndarray or None
    """
    name = type(estimator).__name__
    if _is_ragged_list(X):
        seqs = _ragged_to_sequences(X, name)
        if y is not None:
            from sklearn.utils.validation import check_array, column_or_1d

            if multi_output:
                y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            else:
                y = column_or_1d(y, warn=True)
            if y_numeric:
                y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
            if len(y) != len(seqs):
                raise ValueError(
                    f"X has {len(seqs)} sequences but y has {len(y)} values; they "
                    "must match."
                )
        if reset:
            # the sequence length is free; n_features_in_ counts time steps only
            # for equal-width 2-D float input (see module docstring)
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(estimator, attr):
                    delattr(estimator, attr)
            estimator._input_kind = seqs.kind
            estimator._n_step_features = seqs.n_features
        else:
            _check_kind(estimator, seqs)
        return seqs, y

    if isinstance(X, str | bytes):
        raise _string_error(name)

    if (
        not reset
        and type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype.kind in "iu"
        and X.size
        and getattr(estimator, "_input_kind", None) == "tokens"
        and not hasattr(estimator, "feature_names_in_")
    ):
        # Fast path for predicting on token ids (what TextSequencer returns):
        # nothing for scikit-learn's validation to convert or check here, and
        # it would be most of the cost of predicting one short document.
        _check_token_values(X)
        return Sequences(X, _lengths_from_tokens(X), "tokens"), None

    # Regular arrays go through scikit-learn's validation (feature names, sparse,
    # NaN/inf, dtype, 1-D and empty input messages).
    if not sp.issparse(X):
        arr = np.asarray(X) if not hasattr(X, "dtype") else X
        dtype_kind = getattr(arr, "dtype", np.dtype(float)).kind
        if dtype_kind in "OUS" and _has_strings(arr):
            raise _string_error(name)
    kw = dict(
        accept_sparse=False,
        allow_nd=True,
        dtype=None,
        ensure_min_features=1,
        ensure_min_samples=1,
    )
    check_width = True
    if not reset and getattr(estimator, "_input_kind", None) != "numeric2d":
        # token ids and 3-D input keep a free number of time steps
        check_width = False
    if y is None:
        if check_width:
            X = validate_data(estimator, X, reset=reset, **kw)
        else:
            X = validate_data(estimator, X, reset=False, skip_check_array=True)
            from sklearn.utils.validation import check_array

            X = check_array(X, **kw)
    else:
        X, y = validate_data(
            estimator,
            X,
            y,
            reset=reset,
            y_numeric=y_numeric,
            multi_output=multi_output,
            **kw,
        )
    if X.ndim not in (2, 3):
        raise ValueError(
            f"Expected a 2-D or 3-D array (n_samples, n_timesteps[, n_features]), got "
            f"{X.ndim} dimensions."
        )
    if X.dtype.kind == "O":
        X = X.astype(np.float64)
    if X.dtype.kind == "b":
        X = X.astype(np.float32)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported; pass real numbers.")

    if X.ndim == 2 and X.dtype.kind in "iu":
        _check_token_values(X)
        seqs = Sequences(X, _lengths_from_tokens(X), "tokens")
        kind = "tokens"
    else:
        if X.shape[1] == 0:
            raise ValueError(
                "Sequences of length 0 are not allowed (X has 0 time steps)."
            )
        seqs = Sequences(X, np.full(X.shape[0], X.shape[1], dtype=np.int64), "numeric")
        kind = "numeric2d" if X.ndim == 2 else "numeric"
    if reset:
        if kind != "numeric2d":
            # n_features_in_ is only meaningful for equal-width 2-D float input;
            # keep feature_names_in_ (pandas column names) as validate_data set it.
            if hasattr(estimator, "n_features_in_"):
                del estimator.n_features_in_
        estimator._input_kind = kind
        estimator._n_step_features = seqs.n_features
    else:
        _check_kind(estimator, seqs)
    return seqs, y


def _has_strings(arr) -> bool:
    flat = np.asarray(arr, dtype=object).ravel()
    return any(isinstance(v, str | bytes) for v in flat[:1000]) or any(
        isinstance(v, str | bytes) for v in flat
    )


def _check_kind(estimator, seqs: Sequences) -> None:
    fitted = estimator._input_kind
    fitted_tokens = fitted == "tokens"
    if fitted_tokens != (seqs.kind == "tokens"):
        what = {True: "integer token ids", False: "float (numeric) sequences"}
        raise ValueError(
            f"{type(estimator).__name__} was fitted on {what[fitted_tokens]} but got "
            f"{what[seqs.kind == 'tokens']}. Pass the same kind of input as in fit "
            "(cast with X.astype(float) for numeric series)."
        )
    if seqs.kind == "numeric" and seqs.n_features != estimator._n_step_features:
        raise ValueError(
            f"X has {seqs.n_features} features per time step, but "
            f"{type(estimator).__name__} was fitted with "
            f"{estimator._n_step_features} features per time step."
        )


class SequenceDataset(torch.utils.data.Dataset):
    """Padded sequences, their lengths and optional targets, batched by index.

    The data stay in the caller's numpy array; each batch copies only its own
    rows, cut to the longest member of the batch.
    """

    def __init__(self, seqs: Sequences, y=None, *, n_tokens: int | None = None):
        self.data = seqs.data
        self.lengths = seqs.lengths
        self.kind = seqs.kind
        self.y = y
        self.n_tokens = n_tokens
        self.index = None  # rows of ``data`` this dataset covers (None = all)

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, idx: np.ndarray):
        lengths = self.lengths[idx]
        T = int(lengths.max())
        rows = idx if self.index is None else self.index[idx]
        x = self.data[rows, :T]
        if self.kind == "tokens":
            if self.n_tokens is not None and x.size and x.max() >= self.n_tokens:
                # ids unseen in fit read as out-of-vocabulary (id 1)
                x = np.where(x >= self.n_tokens, 1, x)
            if x.dtype not in (np.int32, np.int64):
                x = x.astype(np.int64)
            # nn.Embedding reads int32 ids as they are: no int64 copy needed
            xt = torch.from_numpy(np.ascontiguousarray(x))
        else:
            if x.ndim == 2:
                x = x[:, :, None]
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        Xb = {"x": xt, "lengths": torch.from_numpy(lengths)}
        if self.y is None:
            return Xb, torch.zeros(len(idx))
        return Xb, torch.from_numpy(np.ascontiguousarray(self.y[idx]))

    def __getitem__(self, i):  # for generic torch tooling; batches use .batch
        return self.batch(np.array([i]))


#: Training batches are formed inside shuffled pools of this many batches.
#: 1 gives plain random batches (benchmarks/bench_convergence.py compares).
TRAIN_POOL_BATCHES = 50


def bucket_batches(
    lengths: np.ndarray,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    pool_batches: int = 50,
) -> list[np.ndarray]:
    """Index batches of sequences of similar length.

    Without ``rng`` (prediction): sort all by length, cut into batches.
    With ``rng`` (training): shuffle, then sort inside pools of
    ``pool_batches * batch_size`` sequences, cut into batches and shuffle the
    batch order, so that batches differ from epoch to epoch while each batch
    holds sequences of similar length.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    perm = rng.permutation(n)
    pool = max(batch_size * pool_batches, batch_size)
    batches = []
    for start in range(0, n, pool):
        chunk = perm[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(
            chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)
        )
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class BucketBatchLoader:
    """Iterator over length-bucketed batches, used as skorch's ``iterator_*``.

    Parameters
    ----------
    dataset : SequenceDataset
    batch_size : int
    shuffle : bool
        Training order (bucketed and shuffled by ``random_state``) if True,
        sorted-by-length order otherwise.
    random_state : numpy.random.Generator or None
        Generator shared across epochs, so each epoch gets new batches.
    """

    def __init__(
        self, dataset, batch_size=64, shuffle=False, random_state=None, **kwargs
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        rng = None
        if self.shuffle:
            rng = self.random_state
            if rng is None:
                rng = np.random.default_rng()
        pool = TRAIN_POOL_BATCHES if self.shuffle else 1
        for idx in bucket_batches(
            self.dataset.lengths, self.batch_size, rng=rng, pool_batches=pool
        ):
            yield self.dataset.batch(idx)
