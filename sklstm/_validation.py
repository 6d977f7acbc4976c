"""Input validation: what an ``X`` (and ``y``) holds and whether it is usable.

One rule decides how an input ``X`` is read (see :ref:`input_conventions`):

* a 2-D **integer** array ``(n_samples, max_len)`` holds token ids, 0 = padding at
  the end, 1 = out-of-vocabulary; each row's length is the position of its last
  non-zero id + 1. This is what :class:`~sklstm.TextSequencer` returns.
* a 2-D **float** array ``(n_samples, n_timesteps)`` holds univariate series of
  equal length. Its width must not change between ``fit`` and ``predict``.
* a 3-D **float** array ``(n_samples, n_timesteps, n_features)`` holds
  multivariate series (batch first, channels last, as in PyTorch and Keras).
* a **list** of arrays of different lengths holds variable-length sequences:
  1-D integer arrays are token-id sequences (trailing 0s are padding, as in a
  2-D array); 1-D float arrays are univariate series; 2-D float arrays
  ``(n_timesteps_i, n_features)`` are multivariate. A list of arrays of equal
  length reads as the array they stack into.

NaN, infinity, strings, complex numbers, sparse matrices, empty input and
sequences of length 0 are refused with an error that names the fix.

For token ids, 3-D arrays and lists the number of time steps is free at predict
time; for 3-D arrays and lists the number of features per step must match.

This layer returns what it learned about the input (an :class:`InputSpec`) and
never writes estimator attributes of its own; scikit-learn's ``validate_data``
sets ``n_features_in_`` / ``feature_names_in_`` as it does for every estimator.
No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sklstm._compat import _check_sample_weight, validate_data
from sklstm._dataframes import to_array
from sklstm._ids import OOV_ID, PAD_ID

__all__ = [
    "InputSpec",
    "Sequences",
    "check_sample_weight",
    "check_sequences",
    "MAX_TOKEN_ID",
]


def check_sample_weight(sample_weight, n):
    """``sample_weight`` as float64 of length ``n`` (None stays None)."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, np.empty(n), dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError(
            "sample_weight sums to zero: at least one sample needs a positive weight."
        )
    return sample_weight


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


@dataclass(frozen=True)
class InputSpec:
    """What ``fit`` learned about its input, checked again at predict time.

    ``kind`` is ``"tokens"``, ``"numeric"`` (3-D arrays and lists) or
    ``"numeric2d"`` (a 2-D float array: its width is fixed);
    ``n_step_features`` the features per time step; ``ragged`` whether ``X``
    was a list of sequences of different lengths (scikit-learn's
    ``validate_data`` did not see it).
    """

    kind: str
    n_step_features: int
    ragged: bool = False


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


_COMPLEX_MESSAGE = (
    "Complex data not supported; pass real numbers (e.g. X.real, np.abs(X), or "
    "real and imaginary parts as two features per time step)."
)


def _string_error(estimator_name: str) -> TypeError:
    return TypeError(
        f"{estimator_name} got text (strings), but it needs numbers: token-id "
        "sequences or numeric series. Turn raw text into padded token ids first, "
        "e.g. make_pipeline(TextSequencer(), "
        f"{estimator_name}()) -- TextSequencer is in sklstm."
    )


#: rows per block when lengths are read from padded token ids
_LENGTH_BLOCK = 4096


def _lengths_from_tokens(data: np.ndarray) -> np.ndarray:
    """Length of each row = position of its last non-zero id + 1 (at least 1)."""
    if data.shape[1] == 0:
        return np.ones(data.shape[0], dtype=np.int64)
    if data.shape[0] <= 8:  # a few rows (serving): cheaper row by row
        return np.array(
            [nz[-1] + 1 if len(nz := np.flatnonzero(row)) else 1 for row in data],
            dtype=np.int64,
        )
    # in blocks of rows: the boolean masks stay small (no (n, T) temporaries)
    lengths = np.empty(data.shape[0], dtype=np.int64)
    for start in range(0, data.shape[0], _LENGTH_BLOCK):
        nonzero = data[start : start + _LENGTH_BLOCK] != 0
        # index of the last True per row: width - argmax over the reversed row
        last = data.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
        last[~nonzero.any(axis=1)] = 1
        lengths[start : start + len(last)] = last
    return lengths


#: Largest token id accepted in ``fit``: the embedding table has one row per id
#: up to the largest one, and TextSequencer's ids are int32.
MAX_TOKEN_ID = np.iinfo(np.int32).max - 1


def _check_token_values(data: np.ndarray, *, fitting: bool = False) -> None:
    if not data.size:
        return
    if data.dtype.kind == "i" and data.min() < 0:
        row = int(np.nonzero((data < 0).any(axis=1))[0][0])
        raise ValueError(
            f"Token ids must be >= 0 ({PAD_ID} = padding, {OOV_ID} = out-of-vocabulary); "
            f"row {row} "
            f"holds {int(data[row].min())}. If these are numeric values rather than "
            "token ids, pass them as a float array (X.astype(float))."
        )
    if fitting and data.max() > MAX_TOKEN_ID:
        row = int(np.nonzero((data > MAX_TOKEN_ID).any(axis=1))[0][0])
        raise ValueError(
            f"Token ids must be at most {MAX_TOKEN_ID} (the embedding table has one "
            f"row per id up to the largest one); row {row} holds "
            f"{int(data[row].max())}. Renumber the tokens to 2, 3, ... (TextSequencer "
            "does this for text, np.unique(X, return_inverse=True) for other ids), "
            "or pass numeric values as a float array (X.astype(float))."
        )


def _nonfinite_error(where: str) -> ValueError:
    return ValueError(
        f"Input X contains NaN or infinity (in {where}). Remove or impute "
        "missing values first (e.g. drop those sequences, or fill gaps along time "
        "with pandas ffill/interpolate); for sequences of unequal lengths pass a "
        "list of arrays of different lengths instead of NaN padding."
    )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite(data: np.ndarray, what: str = "") -> None:
    """Raise a clear error if ``data`` holds NaN, infinity or values that the
    network's float32 arithmetic cannot hold."""
    if data.dtype.kind != "f" or not data.size:
        return
    finite = np.isfinite(data)
    if not finite.all():
        if not what:
            rows = ~finite.reshape(len(data), -1).all(axis=1)
            what = f"sequence {int(np.nonzero(rows)[0][0])}"
        raise _nonfinite_error(what)
    if data.dtype.itemsize > 4:
        if max(abs(float(data.max())), abs(float(data.min()))) > _FLOAT32_MAX:
            raise ValueError(
                f"Input X holds values beyond the float32 range (|x| > "
                f"{_FLOAT32_MAX:.3g}){' in ' + what if what else ''}, which the "
                "network computes in; rescale the input first (e.g. divide by a "
                "large constant or take a logarithm)."
            )


def _check_y(y, n_samples: int) -> None:
    """Length and NaN/inf checks on ``y`` with messages that name the fix."""
    if not hasattr(y, "__len__") or isinstance(y, str | bytes):
        return  # left to scikit-learn's message
    if len(y) != n_samples:
        raise ValueError(
            f"X has {n_samples} sequences but y has {len(y)} values; they must "
            "match (one target per sequence)."
        )
    y_arr = to_array(y)
    try:
        y_arr = np.asarray(y_arr)
    except (TypeError, ValueError):
        return
    if y_arr.dtype.kind == "f" and not np.isfinite(y_arr).all():
        bad = int(
            np.nonzero(~np.isfinite(y_arr.reshape(len(y_arr), -1)).all(axis=1))[0][0]
        )
        raise ValueError(
            f"Input y contains NaN or infinity (at sample {bad}). Every sequence "
            "needs a finite target: drop the samples with missing targets or fill "
            "them first."
        )


def _ragged_to_sequences(X, estimator_name: str, *, fitting: bool = False) -> Sequences:
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
            raise ValueError(_COMPLEX_MESSAGE)
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
        for i, a in enumerate(items):
            if a.dtype.kind == "i" and a.min() < 0:
                raise ValueError(
                    f"Token ids must be >= 0 ({PAD_ID} = padding, {OOV_ID} = "
                    "out-of-vocabulary); "
                    f"sequence {i} holds {int(a.min())}. If these are numeric values "
                    "rather than token ids, pass them as float arrays "
                    "(x.astype(float))."
                )
        dtype = np.result_type(*[a.dtype for a in items])
        if dtype.kind not in "iu":  # int64 mixed with uint64
            dtype = np.dtype(np.uint64)
        data = np.zeros((n, T), dtype=dtype)
        for i, a in enumerate(items):
            data[i, : a.shape[0]] = a
        _check_token_values(data, fitting=fitting)
        # 0 is padding wherever it comes from: trailing zeros of a sequence in a
        # list are padding too, as in a padded array (at least one step is kept)
        return Sequences(data, _lengths_from_tokens(data), "tokens")

    widths = {1 if a.ndim == 1 else a.shape[1] for a in items}
    if len(widths) > 1:
        raise ValueError(
            f"All sequences must have the same number of features per time step; "
            f"found {sorted(widths)}. Give every sequence the same columns: 1-D "
            "arrays for univariate series, (n_timesteps, n_features) arrays with one "
            "n_features for multivariate ones."
        )
    F = widths.pop()
    if F == 0:
        raise ValueError(
            "The sequences have 0 features per time step; each time step needs at "
            "least one value."
        )
    for i, a in enumerate(items):
        # checked on the originals, before the float32 copy turns float64 values
        # beyond float32's range into infinity
        _check_finite(a, what=f"sequence {i}")
    data = np.zeros((n, T, F), dtype=np.float32)
    for i, a in enumerate(items):
        data[i, : a.shape[0]] = a.reshape(a.shape[0], F)
    return Sequences(data, lengths, "numeric")


def check_sequences(
    estimator,
    X,
    y=None,
    *,
    reset: bool,
    fitted: InputSpec | None = None,
    y_numeric: bool = False,
    multi_output: bool = False,
):
    """Validate ``X`` (and ``y``) for an sklstm estimator.

    With ``reset=True`` (fit) the input may be of any accepted kind; with
    ``reset=False`` it is checked against ``fitted``, the :class:`InputSpec`
    that ``fit`` returned. ``estimator`` names the caller in messages and goes
    to scikit-learn's ``validate_data`` (which checks and, on reset, sets
    ``n_features_in_`` and ``feature_names_in_``).

    Returns
    -------
    seqs : Sequences
    y : ndarray or None
    spec : InputSpec
        What the input is; on reset the caller keeps it for prediction.
    """
    if not reset and fitted is None:
        raise TypeError("check_sequences(reset=False) needs the fitted InputSpec.")
    name = type(estimator).__name__
    if _is_ragged_list(X):
        seqs = _ragged_to_sequences(X, name, fitting=reset)
        if y is not None:
            from sklearn.utils.validation import check_array, column_or_1d

            _check_y(y, len(seqs))
            if multi_output:
                y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            else:
                y = column_or_1d(y, warn=True)
            if y_numeric:
                y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        spec = InputSpec(seqs.kind, seqs.n_features, ragged=True)
        if not reset:
            _check_kind(name, fitted, seqs)
        return seqs, y, spec

    if isinstance(X, str | bytes):
        raise _string_error(name)

    if (
        not reset
        and y is None
        and type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype.kind in "iu"
        and X.size
        and fitted.kind == "tokens"
        and not hasattr(estimator, "feature_names_in_")
    ):
        # Fast path for predicting on token ids (what TextSequencer returns):
        # nothing for scikit-learn's validation to convert or check here, and
        # it would be most of the cost of predicting one short document.
        _check_token_values(X)
        return Sequences(X, _lengths_from_tokens(X), "tokens"), None, fitted

    # Regular arrays go through scikit-learn's validation (feature names, sparse,
    # dtype and zero-width messages), after checks whose messages speak of
    # sequences rather than of feature matrices.
    if not sp.issparse(X):
        arr = _as_array(X)
        _check_array_shape(estimator, arr, fitted=fitted)
        if y is not None:
            _check_y(y, len(arr))
    kw = dict(
        accept_sparse=False,
        allow_nd=True,
        dtype=None,
        ensure_min_features=1,
        ensure_min_samples=1,
        ensure_all_finite=False,  # checked below, with a message about sequences
    )
    check_width = True
    if not reset and fitted.kind != "numeric2d":
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
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"X has dtype object and holds values that are not numbers ({exc}). "
                f"{name} needs numeric sequences: pass an array of numbers (None "
                "reads as a missing value, which is not allowed either)."
            ) from None
    if X.dtype.kind == "b":
        X = X.astype(np.float32)
    if X.dtype.kind == "c":
        raise ValueError(_COMPLEX_MESSAGE)
    if X.dtype.kind not in "iuf":
        raise TypeError(
            f"X has dtype {X.dtype}; {name} needs integer token ids or float "
            "values. Convert X to a numeric dtype first."
        )

    if X.ndim == 2 and X.dtype.kind in "iu":
        _check_token_values(X, fitting=reset)
        seqs = Sequences(X, _lengths_from_tokens(X), "tokens")
        kind = "tokens"
    else:
        if X.shape[1] == 0:
            raise ValueError(
                "Sequences of length 0 are not allowed (X has 0 time steps); every "
                "sequence needs at least one time step."
            )
        _check_finite(X)
        seqs = Sequences(X, np.full(X.shape[0], X.shape[1], dtype=np.int64), "numeric")
        kind = "numeric2d" if X.ndim == 2 else "numeric"
    if not reset:
        _check_kind(name, fitted, seqs)
    return seqs, y, InputSpec(kind, seqs.n_features)


def _as_array(X):
    """``X`` as an ndarray for shape and dtype checks, with a clear error."""
    if isinstance(X, np.ndarray):
        return X
    try:
        return np.asarray(X)
    except (TypeError, ValueError) as exc:
        if isinstance(X, list | tuple):
            _check_items_are_sequences(X)
        raise ValueError(
            f"X could not be read as an array of sequences ({exc}). Pass a 2-D "
            "array (n_samples, n_timesteps), a 3-D array (n_samples, n_timesteps, "
            "n_features), or a list of 1-D or 2-D arrays, one per sequence."
        ) from None


def _check_items_are_sequences(items) -> None:
    """Name the first item of a list that is a single value, not a sequence."""
    if not any(hasattr(v, "__len__") for v in items):
        return  # all single values: one 1-D sequence, reported by the caller
    for i, v in enumerate(items):
        if not hasattr(v, "__len__"):
            raise ValueError(
                f"X mixes sequences and single values: item {i} is {v!r}. Pass a "
                "list in which every item is a sequence (a 1-D or 2-D array)."
            )


def _check_array_shape(estimator, arr: np.ndarray, *, fitted: InputSpec | None) -> None:
    """Errors about strings, complex numbers and the shape of an array ``X``."""
    name = type(estimator).__name__
    if arr.dtype.kind in "OUS" and _has_strings(arr):
        raise _string_error(name)
    if arr.dtype.kind == "c":
        raise ValueError(_COMPLEX_MESSAGE)
    if arr.ndim in (0, 1) and arr.size == 0 or arr.ndim > 1 and arr.shape[0] == 0:
        raise ValueError(
            f"X holds 0 sequences (shape={arr.shape}); {name} needs at least one "
            "sequence (n_samples >= 1)."
        )
    if arr.ndim == 0:
        raise ValueError(
            f"Expected a 2-D or 3-D array of sequences, got a scalar ({arr!r})."
        )
    if arr.ndim == 1:
        if arr.dtype.kind == "O":
            _check_items_are_sequences(arr)
        raise ValueError(
            f"Expected a 2-D or 3-D array of sequences, got a 1-D array of shape "
            f"{arr.shape}. Reshape your data: a single sequence is one row, "
            "X.reshape(1, -1) (or [x]); sequences of different lengths go in a list "
            "of arrays."
        )
    if arr.ndim > 3:
        raise ValueError(
            f"Expected a 2-D or 3-D array (n_samples, n_timesteps[, n_features]), got "
            f"{arr.ndim} dimensions (shape={arr.shape})."
        )
    if arr.ndim == 3 and arr.shape[2] == 0:
        raise ValueError(
            f"X has 0 features per time step (shape={arr.shape}); each time step "
            "needs at least one value."
        )
    if (
        fitted is not None
        and arr.ndim == 2
        and arr.dtype.kind not in "iu"
        and fitted.kind == "numeric2d"
        and hasattr(estimator, "n_features_in_")
        and arr.shape[1] != estimator.n_features_in_
    ):
        n = estimator.n_features_in_
        raise ValueError(
            f"X has {arr.shape[1]} features, but {name} is expecting {n} features "
            f"as input: it was fitted on a 2-D float array, i.e. univariate series "
            f"of exactly {n} time steps. Pass series of {n} steps, or fit on a 3-D "
            "array X[:, :, None] or a list of 1-D arrays to predict on series of "
            "any length."
        )


def _has_strings(arr) -> bool:
    flat = np.asarray(arr, dtype=object).ravel()
    return any(isinstance(v, str | bytes) for v in flat[:1000]) or any(
        isinstance(v, str | bytes) for v in flat
    )


def _check_kind(name: str, fitted: InputSpec, seqs: Sequences) -> None:
    fitted_tokens = fitted.kind == "tokens"
    if fitted_tokens != (seqs.kind == "tokens"):
        what = {
            True: "integer token ids (a 2-D integer array or a list of 1-D integer "
            "arrays)",
            False: "numeric sequences (float arrays, 3-D arrays or lists of 2-D "
            "arrays)",
        }
        raise ValueError(
            f"{name} was fitted on {what[fitted_tokens]} but got "
            f"{what[seqs.kind == 'tokens']}. Pass the same kind of input as in fit "
            "(cast with X.astype(float) for numeric series, X.astype(int) for token "
            "ids)."
        )
    if seqs.kind == "numeric" and seqs.n_features != fitted.n_step_features:
        raise ValueError(
            f"X has {seqs.n_features} features per time step, but "
            f"{name} was fitted with "
            f"{fitted.n_step_features} features per time step. Pass sequences "
            "with the same features (columns per time step) as in fit."
        )
