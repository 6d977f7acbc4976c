"""Warnings and errors raised by sklstm."""

__all__ = ["InconsistentVersionWarning"]


class InconsistentVersionWarning(UserWarning):
    """A model saved by one sklstm version is loaded under another one.

    Like scikit-learn's warning of the same name: predictions may differ or
    loading may break, since the model's internals can change between
    versions. Refit the model with the running version, or install the version
    it was saved with (``original_sklstm_version``).
    """

    def __init__(
        self, *, estimator_name, current_sklstm_version, original_sklstm_version
    ):
        self.estimator_name = estimator_name
        self.current_sklstm_version = current_sklstm_version
        self.original_sklstm_version = original_sklstm_version

    def __str__(self):
        return (
            f"Trying to load {self.estimator_name} saved by sklstm "
            f"{self.original_sklstm_version} with sklstm {self.current_sklstm_version}. "
            "This might lead to breaking code or invalid results; refit the model or "
            f"install sklstm {self.original_sklstm_version} to use it."
        )
