"""Version shims and the only place that touches private scikit-learn helpers.

Private scikit-learn names may move between releases; importing them here
alone means one file to fix when they do.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "_safe_indexing",
    "get_param_names",
    "validate_params",
    "validate_data",
]


def get_param_names(cls) -> list:
    """The constructor parameters of estimator class ``cls``, sorted."""
    return cls._get_param_names()


def validate_params(estimator) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints``."""
    estimator._validate_params()
