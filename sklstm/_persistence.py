"""What every sklstm estimator adds to its pickled state, and what old pickles need.

The parameters added since 0.1.0.dev0 (with the value that reproduces a
pickle or model file written before them) and the classes that moved out of
``sklstm._base`` since then.
"""

import warnings

from sklstm._version import __version__
from sklstm.exceptions import InconsistentVersionWarning


class _VersionedPickleMixin:
    """Record the sklstm version in pickles; warn when loading another one."""

    def __getstate__(self):
        # a copy: scikit-learn hands back the live __dict__ for estimators
        # outside its own package, and pickling must not change the estimator
        return dict(super().__getstate__(), _sklstm_version=__version__)

    def __setstate__(self, state):
        saved = state.pop("_sklstm_version", None)
        if saved is not None and saved != __version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_sklstm_version=__version__,
                    original_sklstm_version=saved,
                ),
                stacklevel=2,
            )
        super().__setstate__(state)


class _NoAcceleratorPickleMixin:
    """Pickle without the ``accelerator`` parameter (it comes back as None).

    An Accelerator is this process's handle on its process group and
    devices, meaningless in another process; fitted models hold no
    reference to it. The state is copied: it may be the live ``__dict__``.
    """

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("accelerator") is not None:
            state = dict(state, accelerator=None)
        return state


#: parameters added after 0.1.0.dev0, with the value that reproduces it (an
#: estimator takes those of its own parameters: :func:`added_parameters`)
ADDED_PARAMETERS = {
    "patch_size": 1,
    "precision": "32",
    "deterministic": False,
    "predict_batch_size": 1024,
    "calibration": None,
    "refit": False,
    "n_members": 1,
    "label_smoothing": 0.0,  # LSTMClassifier only
    "pretrained": None,
    "lm_epochs": 0,
}


def added_parameters(cls) -> dict:
    """The entries of :data:`ADDED_PARAMETERS` that are parameters of ``cls``."""
    names = cls._get_param_names()
    return {k: v for k, v in ADDED_PARAMETERS.items() if k in names}


#: where classes of 0.1.0.dev0 lived: pickles written then name them in
#: sklstm._base
_MOVED = {
    "_SequenceNeuralNet": "sklstm._net",
    "_ValidationScore": "sklstm._early_stopping",
    "_EarlyStopping": "sklstm._early_stopping",
    "_StopOnNonFiniteLoss": "sklstm._callbacks",
    "_EpochSnapshot": "sklstm._callbacks",
    "_silent": "sklstm._callbacks",
}


def moved_attribute(module: str, name: str):
    """A moved class that an old pickle names ``module.name``."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")
