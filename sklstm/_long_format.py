"""Long-format tables: one row per (series id, time step), both directions.

:func:`from_long_format` turns a table with columns ``(id, time, value...,
exog...)`` (the input of neuralforecast and of many databases) into what the
estimators read: one array per series, stacked into a 2-D / 3-D array when
all series have the same length and a list of arrays otherwise, plus one
target per series when a target column is named. :func:`to_long_format` goes
back. Tables are pandas, polars or any other dataframe that narwhals
supports (:mod:`sklstm._dataframes`). No torch here.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch

from sklstm._dataframes import as_frame, frame_from_dict, to_array

__all__ = ["from_long_format", "to_long_format"]

_GAPS = ("raise", "ignore", "ffill")


def _names(cols, what: str) -> list:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    cols = list(cols)
    if not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{what} must be a column name or a list of column names.")
    return cols


def _time_numbers(times: np.ndarray, time: str) -> np.ndarray:
    """Times as int64 nanoseconds (datetimes, durations) or float64 numbers."""
    if times.dtype.kind == "M":
        return times.astype("datetime64[ns]").astype(np.int64)
    if times.dtype.kind == "m":
        return times.astype("timedelta64[ns]").astype(np.int64)
    if times.dtype.kind in "iuf":
        return times.astype(np.float64)
    raise TypeError(
        f"The time column {time!r} holds {times.dtype} values; it must hold "
        "numbers or datetimes. Convert it first (e.g. pd.to_datetime(df[time]) "
        "or pl.col(time).str.to_datetime())."
    )


def _step_number(step, times: np.ndarray) -> float:
    """A user's ``step`` in the units of :func:`_time_numbers`."""
    if times.dtype.kind in "Mm":
        try:
            return float(
                np.timedelta64(step).astype("timedelta64[ns]").astype(np.int64)
            )
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"step={step!r} must be a duration for a datetime time column, "
                "e.g. np.timedelta64(1, 'D') or datetime.timedelta(hours=1)."
            ) from exc
    if not isinstance(step, numbers.Real) or isinstance(step, bool):
        raise TypeError(f"step={step!r} must be a number for a numeric time column.")
    return float(step)


def _positions(t: np.ndarray, step: float) -> np.ndarray:
    """Each observation's step index from the series' start (gaps skip indices).

    A difference of ``k`` steps (within half a step, so that calendar months
    read as one step of their shortest length) advances the index by ``k``.
    """
    jumps = np.maximum(1, np.rint(np.diff(t) / step)).astype(np.int64)
    return np.concatenate([[0], np.cumsum(jumps)])


def from_long_format(
    table,
    *,
    id_col="unique_id",
    time_col="ds",
    value_cols="y",
    exog_cols=None,
    label_col=None,
    gaps="raise",
    step=None,
):
    """Read a long-format table into per-series sequences (and targets).

    One row per (series, time step): the rows of each series are sorted by
    time, and each series becomes one sequence whose steps hold the
    ``value_cols`` columns followed by the ``exog_cols`` columns. Read more in
    :ref:`long_format`.

    Parameters
    ----------
    table : dataframe
        A pandas or polars DataFrame (or any eager dataframe that narwhals
        supports) with the columns named below.

    id_col : str, default="unique_id"
        The column that names the series (neuralforecast's name).

    time_col : str, default="ds"
        The column of time stamps: numbers or datetimes.

    value_cols : str or list of str, default="y"
        The observed value column(s), the first features of every step.

    exog_cols : str or list of str, default=None
        Exogenous columns, appended after ``value_cols`` as further features.

    label_col : str, default=None
        A column that holds one value per series (a class label, for
        example): it must be constant within each series and becomes ``y``.

    gaps : {"raise", "ignore", "ffill"}, default="raise"
        What to do where consecutive time stamps of a series are more than
        one ``step`` apart (within half a step): ``"raise"`` a ValueError
        that names the series; ``"ignore"`` them (the rows are read as
        consecutive steps); ``"ffill"``: insert the missing steps, carrying
        the last observed values forward.

    step : number or timedelta, default=None
        The spacing of the time stamps; None infers the smallest positive
        difference between consecutive time stamps over all series.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``: a 2-D ``(n_series, n_steps)`` array (one feature) or 3-D
        ``(n_series, n_steps, n_features)`` array when all series have the
        same length, else a list of 1-D / 2-D float arrays, one per series;
        ``y``: the label per series (None without ``label_col``); ``ids``: the
        series ids in the order of ``X`` (sorted); ``times``: a list with each
        series' time stamps; ``feature_names``: ``value_cols + exog_cols``.

    Raises
    ------
    ValueError
        For a missing column, a (series, time) pair that occurs more than
        once, a missing id, time or value, a label that changes within a
        series, or a gap with ``gaps="raise"``.

    See Also
    --------
    to_long_format : The opposite direction.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklstm import from_long_format
    >>> df = pd.DataFrame({"unique_id": ["b", "a", "a", "b", "a"],
    ...                    "ds": [1, 2, 1, 2, 3], "y": [5.0, 2.0, 1.0, 6.0, 3.0]})
    >>> data = from_long_format(df)
    >>> data.ids.tolist(), [x.tolist() for x in data.X]
    (['a', 'b'], [[1.0, 2.0, 3.0], [5.0, 6.0]])
    """
    if gaps not in _GAPS:
        raise ValueError(f"gaps must be one of {_GAPS}, got {gaps!r}.")
    frame = as_frame(table, what="The long-format table")
    value_cols, exog_cols = (
        _names(value_cols, "value_cols"),
        _names(exog_cols, "exog_cols"),
    )
    features = value_cols + exog_cols
    if not value_cols:
        raise ValueError("value_cols must name at least one column.")
    if not isinstance(id_col, str) or not isinstance(time_col, str):
        raise TypeError("id_col and time_col must be column names (strings).")
    wanted = [id_col, time_col, *features] + (
        [label_col] if label_col is not None else []
    )
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The table has no column {', '.join(map(repr, missing))}; its columns "
            f"are {list(frame.columns)}. Name the columns with id_col=, time_col=, "
            "value_cols=, exog_cols= and label_col=."
        )
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"A column is named twice among {wanted}.")
    frame = frame.select(wanted)
    for col in (id_col, time_col):
        if frame[col].null_count():
            raise ValueError(
                f"The {col!r} column has {frame[col].null_count()} missing "
                "values; every row needs a series id and a time stamp."
            )
    frame = frame.sort([id_col, time_col])
    dup = frame.select([id_col, time_col]).is_duplicated().to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        raise ValueError(
            f"Series {_show(frame[id_col][row])} has {int(dup.sum())} rows that share "
            f"their time stamp with another row (first at {time_col}="
            f"{_show(frame[time_col][row])}); each (series, time) pair must occur once. "
            f"Aggregate the duplicates first, e.g. df.groupby([{id_col!r}, {time_col!r}])"
            f".mean() in pandas or df.group_by({id_col!r}, {time_col!r}).mean() in polars, or drop "
            "them."
        )
    ids = np.asarray(to_array(frame[id_col]))
    times = np.asarray(to_array(frame[time_col]))
    t_num = _time_numbers(times, time_col)
    try:
        vals = np.asarray(to_array(frame.select(features)), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"The value and exogenous columns {features} must be numeric: {exc}."
        ) from exc
    bad = np.isnan(vals)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"Column {features[col]!r} is missing for series {_show(ids[row])} at "
            f"{time_col}={_show(times[row])} ({int(bad.any(axis=1).sum())} rows in all). "
            "Fill or drop missing values first (e.g. a forward fill per series), "
            "or drop those rows and read them with gaps='ffill'."
        )
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    bounds = list(zip(starts, np.r_[starts[1:], len(ids)]))
    if step is None:
        diffs = np.diff(t_num)
        same = ids[1:] == ids[:-1]
        diffs = diffs[same & (diffs > 0)]
        step_num = float(diffs.min()) if diffs.size else 1.0
    else:
        step_num = _step_number(step, times)
        if not step_num > 0:
            raise ValueError(f"step must be positive, got {step!r}.")
    X, series_times = [], []
    for lo, hi in bounds:
        v, t, tn = vals[lo:hi], times[lo:hi], t_num[lo:hi]
        if gaps != "ignore" and hi - lo > 1:
            pos = _positions(tn, step_num)
            if pos[-1] != hi - lo - 1:
                if gaps == "raise":
                    at = int(np.argmax(np.diff(pos) > 1))
                    raise ValueError(
                        f"Series {_show(ids[lo])} has a gap after {time_col}={_show(t[at])} "
                        f"(next: {_show(t[at + 1])}; {pos[-1] + 1 - (hi - lo)} missing "
                        f"steps of {_step_repr(step_num, times)} in all). Pass "
                        "gaps='ffill' to insert the missing steps with the last "
                        "values carried forward, gaps='ignore' to read the rows "
                        "as consecutive, or step= if the spacing was inferred "
                        "wrongly."
                    )
                filled = np.zeros(pos[-1] + 1, dtype=np.int64)
                filled[pos] = np.arange(len(pos))
                src = np.maximum.accumulate(filled)
                v = v[src]
                offsets = (np.arange(len(src)) - pos[src]) * step_num
                t = _times_back(tn[src] + offsets, times.dtype)
        X.append(v[:, 0] if v.shape[1] == 1 else v)
        series_times.append(t)
    y = None
    if label_col is not None:
        tgt = np.asarray(to_array(frame[label_col]))
        y = tgt[starts]
        for lo, hi in bounds:
            if not (tgt[lo:hi] == tgt[lo]).all():
                raise ValueError(
                    f"The label column {label_col!r} changes within series "
                    f"{_show(ids[lo])}; it must hold one value per series (use "
                    "value_cols= for a value that changes over time)."
                )
    if len({len(x) for x in X}) == 1:
        X = np.stack(X)
    return Bunch(X=X, y=y, ids=ids[starts], times=series_times, feature_names=features)


def _show(v) -> str:
    """A value for a message: ``2024-02-01T00:00`` or ``'a'``, not numpy's repr."""
    if isinstance(v, np.datetime64 | np.timedelta64):
        return str(v)
    return repr(v.item() if isinstance(v, np.generic) else v)


def _times_back(numbers: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "M":
        return numbers.astype(np.int64).astype("datetime64[ns]").astype(dtype)
    if dtype.kind == "m":
        return numbers.astype(np.int64).astype("timedelta64[ns]").astype(dtype)
    return numbers.astype(dtype)


def _step_repr(step_num: float, times: np.ndarray) -> str:
    if times.dtype.kind in "Mm":
        seconds = int(step_num) // 10**9
        if seconds and seconds % 86400 == 0:
            return f"{seconds // 86400} days"
        return str(np.timedelta64(int(step_num), "ns").astype("timedelta64[s]"))
    return f"{step_num:g}"


def to_long_format(
    X,
    *,
    ids=None,
    times=None,
    y=None,
    id_col="unique_id",
    time_col="ds",
    value_cols=None,
    label_col="label",
    backend="pandas",
):
    """Write sequences as a long-format table, one row per (series, step).

    Parameters
    ----------
    X : array-like or list of array-like
        A 2-D ``(n_series, n_steps)`` or 3-D ``(n_series, n_steps,
        n_features)`` array, or a list of 1-D / 2-D arrays of any lengths.

    ids : array-like of shape (n_series,), default=None
        The series ids; None numbers the series 0, 1, ...

    times : list of array-like, default=None
        Each series' time stamps; None numbers the steps 0, 1, ...

    y : array-like of shape (n_series,), default=None
        One label per series, repeated on each of its rows in ``label_col``.

    id_col : str, default="unique_id"
        Name of the id column.

    time_col : str, default="ds"
        Name of the time column.

    value_cols : list of str, default=None
        Names of the feature columns; None: ``"y"`` for one feature, else
        ``"y0"``, ``"y1"``, ...

    label_col : str, default="label"
        Name of the label column (only with ``y``).

    backend : str or module, default="pandas"
        The dataframe library of the result, e.g. ``"pandas"`` or
        ``"polars"``.

    Returns
    -------
    table : dataframe
        Columns ``id_col, time_col, *value_cols`` (and ``label_col`` with
        ``y``).

    See Also
    --------
    from_long_format : The opposite direction.

    Examples
    --------
    >>> from sklstm import to_long_format
    >>> to_long_format([[1.0, 2.0], [3.0]], ids=["a", "b"])
      unique_id  ds    y
    0         a   0  1.0
    1         a   1  2.0
    2         b   0  3.0
    """
    seqs = [np.asarray(x, dtype=np.float64) for x in X]
    if not seqs:
        raise ValueError("X holds no sequences.")
    seqs = [x[:, None] if x.ndim == 1 else x for x in seqs]
    if any(x.ndim != 2 for x in seqs) or len({x.shape[1] for x in seqs}) != 1:
        raise ValueError(
            "X must be a 2-D or 3-D array or a list of 1-D / 2-D arrays with the "
            "same number of features."
        )
    n_features = seqs[0].shape[1]
    if value_cols is None:
        value_cols = ["y"] if n_features == 1 else [f"y{j}" for j in range(n_features)]
    value_cols = _names(value_cols, "value_cols")
    if len(value_cols) != n_features:
        raise ValueError(
            f"value_cols names {len(value_cols)} columns, but X has {n_features} features."
        )
    n = len(seqs)
    ids = np.arange(n) if ids is None else np.asarray(ids)
    lengths = [len(x) for x in seqs]
    if times is None:
        times = [np.arange(k) for k in lengths]
    for what, arr in (("ids", ids), ("y", y)):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{what} has {len(arr)} entries for {n} series.")
    if len(times) != n or any(len(t) != k for t, k in zip(times, lengths)):
        raise ValueError("times must hold one time stamp per step of each series.")
    stacked = np.concatenate(seqs)
    data = {
        id_col: np.repeat(ids, lengths),
        time_col: np.concatenate([np.asarray(t) for t in times]),
    }
    data.update({name: stacked[:, j] for j, name in enumerate(value_cols)})
    if y is not None:
        data[label_col] = np.repeat(np.asarray(y), lengths)
    return frame_from_dict(data, backend=backend)
