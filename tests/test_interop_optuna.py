"""Optuna: a search with OptunaSearchCV, pruning on the documented history key."""

import numpy as np
import pytest
from tiny import TINY

from sklstm import LSTMClassifier

optuna = pytest.importorskip("optuna", reason="Optuna is not installed")
integration = pytest.importorskip(
    "optuna_integration", reason="optuna-integration is not installed"
)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 8))
    return X, (X[:, -3:].mean(axis=1) > 0).astype(int)


def test_pruning_callback_reads_valid_score_every_epoch(series):
    from optuna_integration.skorch import SkorchPruningCallback

    X, y = series
    max_epochs = 4

    def objective(trial):
        clf = LSTMClassifier(
            **TINY,
            lr=trial.suggest_float("lr", 1e-3, 3e-2, log=True),
            max_epochs=max_epochs,
            early_stopping=True,  # a validation split, so valid_score exists
            n_iter_no_change=max_epochs,
            callbacks=[SkorchPruningCallback(trial, "valid_score")],
        )
        clf.fit(X, y)
        return clf.best_validation_score_

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=3)
    first = study.trials[0]
    assert first.state == optuna.trial.TrialState.COMPLETE
    # one report per epoch, the score itself
    assert sorted(first.intermediate_values) == list(range(max_epochs))
    assert max(first.intermediate_values.values()) == pytest.approx(first.value)


def test_a_pruned_trial_leaves_no_half_fitted_estimator(series):
    from optuna_integration.skorch import SkorchPruningCallback

    X, y = series
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    trial = study.ask()
    clf = LSTMClassifier(
        **TINY,
        max_epochs=3,
        early_stopping=True,
        callbacks=[SkorchPruningCallback(trial, "valid_score")],
    )
    with pytest.raises(optuna.TrialPruned):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_optuna_search_cv(series):
    from optuna.distributions import IntDistribution

    X, y = series
    search = integration.OptunaSearchCV(
        LSTMClassifier(**TINY, max_epochs=3),
        {"hidden_size": IntDistribution(4, 12)},
        n_trials=2,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert 4 <= search.best_params_["hidden_size"] <= 12
    assert search.predict(X).shape == (len(X),)
