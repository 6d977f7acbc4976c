"""Plots of training curves (matplotlib is optional)."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

__all__ = ["plot_training_curves"]


def plot_training_curves(estimator, *, ax=None):
    """Plot the training loss and validation score of a fitted model per epoch.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or Pipeline
        A fitted sklstm estimator, or a pipeline ending in one.

    ax : matplotlib Axes, default=None
        Where to draw the loss; a new figure is made when None. The
        validation score (when early stopping recorded one) goes on a twin
        y-axis on the right.

    Returns
    -------
    ax : matplotlib Axes
        The axes holding the loss curve.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_training_curves needs matplotlib: pip install matplotlib"
        ) from exc
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    if not hasattr(estimator, "__sklearn_tags__") or not hasattr(
        type(estimator), "_fit_unsafe"
    ):
        raise TypeError(
            "plot_training_curves needs a fitted LSTMClassifier or LSTMRegressor "
            f"(or a pipeline ending in one), got {type(estimator).__name__}."
        )
    check_is_fitted(estimator, "loss_curve_")
    if ax is None:
        _, ax = plt.subplots()
    epochs = range(1, len(estimator.loss_curve_) + 1)
    (loss_line,) = ax.plot(epochs, estimator.loss_curve_, "o-", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    lines = [loss_line]
    scores = estimator.validation_scores_
    if scores:
        name = "validation accuracy" if estimator._is_classifier else "validation R²"
        ax2 = ax.twinx()
        start = len(estimator.loss_curve_) - len(scores) + 1
        (score_line,) = ax2.plot(
            range(start, start + len(scores)), scores, "s-", color="C1", label=name
        )
        ax2.set_ylabel(name)
        lines.append(score_line)
    ax.legend(lines, [line.get_label() for line in lines], loc="best")
    ax.set_title(f"{type(estimator).__name__}: {len(estimator.loss_curve_)} epochs")
    return ax
