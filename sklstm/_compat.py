"""Version shims and the only place that touches private scikit-learn helpers.

Private scikit-learn names may move between releases; importing them here
alone means one file to fix when they do.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "DOCS_URL",
    "DocLinkMixin",
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


#: where the documentation is published; the API pages are under generated/
DOCS_URL = "https://sklstm.readthedocs.io/en/latest/"


class DocLinkMixin:
    """Link the estimator's notebook/HTML repr to its API page.

    scikit-learn's HTML repr (``_HTMLDocumentationLinkMixin``, a base of
    ``BaseEstimator``) shows a "?" link built from these two private class
    attributes for estimators whose module starts with ``_doc_link_module``;
    ``estimator_module`` is the public module (``sklstm``), so
    ``LSTMClassifier`` links to ``generated/sklstm.LSTMClassifier.html``.
    Put this mixin before ``BaseEstimator`` in the bases.
    """

    _doc_link_module = "sklstm"
    _doc_link_template = DOCS_URL + "generated/{estimator_module}.{estimator_name}.html"
