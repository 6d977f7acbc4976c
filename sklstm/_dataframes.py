"""Dataframes: pandas, polars and any other library that narwhals supports.

The one place that recognises a dataframe or a series, through `narwhals
<https://narwhals-dev.github.io/narwhals/>`_ (a dependency of scikit-learn
itself), so that no other module writes a special case for one library.
Numeric 2-D frames go through scikit-learn's ``validate_data``, which already
reads any of them; this module covers what it does not: a text column, a
target series, and the columns of a long-format table.
"""

from __future__ import annotations

import narwhals.stable.v2 as nw
import numpy as np

__all__ = [
    "as_frame",
    "column_values",
    "frame_from_dict",
    "single_column",
    "to_array",
]


def _from_native(X):
    """X as a narwhals DataFrame or Series, or None for anything else."""
    if isinstance(X, np.ndarray | list | tuple | str | bytes) or X is None:
        return None
    obj = nw.from_native(X, allow_series=True, pass_through=True, eager_only=True)
    return None if obj is X else obj


def as_frame(X, *, what: str) -> nw.DataFrame:
    """``X`` as a narwhals DataFrame, or a TypeError naming ``what``."""
    obj = _from_native(X)
    if not isinstance(obj, nw.DataFrame):
        raise TypeError(
            f"{what} must be a dataframe (pandas, polars or another library "
            f"supported by narwhals), got {type(X).__name__}."
        )
    return obj


def single_column(X, *, who: str):
    """The one column of a dataframe ``X`` as a native series; ``X`` otherwise.

    A frame with more than one column is refused with a message that says how
    to select the column (``who`` names the caller).
    """
    obj = _from_native(X)
    if not isinstance(obj, nw.DataFrame):
        return X
    if obj.shape[1] != 1:
        raise ValueError(
            f"{who} expects one column of text, got a DataFrame with "
            f"{obj.shape[1]} columns. Select the text column, e.g. df['text'], or "
            "use a ColumnTransformer with a single column name."
        )
    return nw.to_native(obj.get_column(obj.columns[0]))


def column_values(X):
    """A series' values as a Python list (missing values as None / NaN / NA);
    ``X`` unchanged when it is not a series."""
    obj = _from_native(X)
    if isinstance(obj, nw.Series):
        return obj.to_list()
    return X


def to_array(X):
    """A series or dataframe as a NumPy array; anything else unchanged."""
    obj = _from_native(X)
    if obj is None:
        return X
    return obj.to_numpy()


def frame_from_dict(data: dict, *, backend):
    """A native dataframe of library ``backend`` ("pandas", "polars", a module)
    with the columns of ``data``."""
    return nw.to_native(nw.from_dict(data, backend=backend))
