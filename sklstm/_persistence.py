"""What every sklstm estimator adds to its pickled state."""

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
