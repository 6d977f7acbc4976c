"""Reader for the ``.ts`` time-series format of sktime and aeon."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_ts_file(path, *, equal_length_as_array=True):
    """Read a ``.ts`` file (sktime/aeon format) into sklstm's input layout.

    ``#`` lines are comments and ``@`` lines headers; after ``@data`` each line
    is one case: channels separated by ``:``, values by ``,``, and the class
    label (``@classLabel true``) or regression target (``@targetLabel true``)
    as the last field.

    Parameters
    ----------
    path : str or path-like
        The ``.ts`` file.

    equal_length_as_array : bool, default=True
        Return equal-length data as one 3-D array ``(n_cases, n_timesteps,
        n_channels)``; otherwise (and always for unequal lengths) a list of
        ``(n_timesteps_i, n_channels)`` arrays. Both layouts are what sklstm's
        estimators read (batch first, channels last).

    Returns
    -------
    X : ndarray of shape (n_cases, n_timesteps, n_channels) or list of ndarray
    y : ndarray
        Class labels (str) or regression targets (float); None when the file
        has neither.
    """
    path = Path(path)
    headers: dict[str, str] = {}
    cases, targets = [], []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if line.startswith("@"):
                    key, _, value = line[1:].partition(" ")
                    key = key.lower()
                    if key == "data":
                        in_data = True
                    else:
                        headers[key] = value.strip()
                    continue
                raise ValueError(f"{path}:{lineno}: expected a header line or @data.")
            fields = line.split(":")
            labelled = _is_true(headers.get("classlabel")) or _is_true(
                headers.get("targetlabel")
            )
            if labelled:
                *channels, target = fields
                targets.append(target.strip())
            else:
                channels = fields
            try:
                arrays = [np.array(ch.split(","), dtype=np.float64) for ch in channels]
            except ValueError as exc:
                raise ValueError(
                    f"{path}:{lineno}: could not read values ({exc})."
                ) from None
            lengths = {a.shape[0] for a in arrays}
            if len(lengths) != 1:
                raise ValueError(
                    f"{path}:{lineno}: the channels of one case have different lengths "
                    f"{sorted(lengths)}."
                )
            cases.append(np.stack(arrays, axis=1))
    if not in_data:
        raise ValueError(f"{path}: no @data section found.")
    y = None
    if targets:
        if _is_true(headers.get("targetlabel")):
            y = np.array(targets, dtype=np.float64)
        else:
            y = np.array(targets)
    if equal_length_as_array and len({c.shape for c in cases}) == 1:
        return np.stack(cases), y
    return cases, y


def _is_true(value) -> bool:
    return value is not None and value.split()[0].lower() == "true"


def from_channels_first(X):
    """Convert aeon/sktime/tsai channels-first data to sklstm's layout.

    Parameters
    ----------
    X : ndarray of shape (n_cases, n_channels, n_timesteps) or list of ndarray
        Equal-length data as one 3-D array, or unequal-length data as a list of
        ``(n_channels, n_timesteps_i)`` arrays (aeon's convention).

    Returns
    -------
    X : ndarray of shape (n_cases, n_timesteps, n_channels) or list of ndarray
        Batch first, channels last; lists stay lists of
        ``(n_timesteps_i, n_channels)`` arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.datasets import from_channels_first
    >>> from_channels_first(np.zeros((5, 3, 40))).shape
    (5, 40, 3)
    """
    if isinstance(X, np.ndarray):
        if X.ndim != 3:
            raise ValueError(
                f"Expected a 3-D array (n_cases, n_channels, n_timesteps), got "
                f"{X.ndim} dimensions."
            )
        return np.ascontiguousarray(X.transpose(0, 2, 1))
    out = []
    for i, case in enumerate(X):
        case = np.asarray(case)
        if case.ndim != 2:
            raise ValueError(
                f"Case {i} has {case.ndim} dimensions; expected (n_channels, "
                "n_timesteps)."
            )
        out.append(np.ascontiguousarray(case.T))
    return out
