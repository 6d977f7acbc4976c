"""plot_training_curves."""

import matplotlib
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from tiny import TINY

from sklstm import (
    LSTMClassifier,
    TextSequencer,
    plot_training_curves,
)

matplotlib.use("Agg")


def test_plot_training_curves(make_tokens):
    X, y, _ = make_tokens(n=1200)
    clf = LSTMClassifier(**dict(TINY, max_epochs=3)).fit(X, y)  # early stopping on
    ax = plot_training_curves(clf)
    assert len(ax.lines) == 1 and len(ax.get_figure().axes) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), clf.loss_curve_)
    pipe_ax = plot_training_curves(make_pipeline(clf))
    assert pipe_ax is not ax
    with pytest.raises(TypeError, match="LSTMClassifier or LSTMRegressor"):
        plot_training_curves(TextSequencer())
    with pytest.raises(NotFittedError):
        plot_training_curves(LSTMClassifier())
