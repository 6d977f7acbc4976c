"""Building the skorch net: one builder for fit and load, the network's arguments."""

import numpy as np
import pytest

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._net import build_net, finish_net, network_kwargs
from sklstm._validation import check_sequences

SMALL = dict(hidden_size=8, embedding_dim=6, max_epochs=2, random_state=0)


def test_fit_and_load_build_the_same_net(token_data, tmp_path):
    X, y, _ = token_data
    clf = LSTMClassifier(early_stopping=True, **SMALL).fit(X, y)
    sklstm.save(clf, tmp_path / "m.sklstm")
    loaded = sklstm.load(tmp_path / "m.sklstm")
    for net in (clf.net_, loaded.net_):
        # finished: no validation data or batch generator travels with it
        assert net.train_split is None
        assert net.iterator_train__random_state is None
        assert not net.module_.training
    fitted, rebuilt = clf.net_.get_params(), loaded.net_.get_params()
    for key in ("module", "criterion", "optimizer", "lr", "batch_size"):
        assert fitted[key] == rebuilt[key]
    assert fitted["iterator_train"] is rebuilt["iterator_train"]
    assert clf.net_.get_params_for("module") == loaded.net_.get_params_for("module")


def test_finish_net_is_what_fit_leaves(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**SMALL).fit(X, y)
    net = build_net(clf, clf.net_.get_params_for("module"), device="cpu", seed=1)
    net.initialize()
    net.module_.train()
    assert net.iterator_train__random_state is not None
    finish_net(net)
    assert not net.module_.training and net.iterator_train__random_state is None


def test_network_kwargs_resolve_auto_and_scale_numeric_input(rng):
    X = rng.normal(loc=5.0, scale=3.0, size=(40, 6, 2))
    est = LSTMRegressor()
    seqs, _, _ = check_sequences(est, X, reset=True)
    plan = network_kwargs(est, seqs, n_outputs=1)
    assert plan.kwargs["hidden_size"] == 64 and plan.kwargs["dropout"] == 0.5
    assert plan.n_tokens is None and plan.embeddings is None
    np.testing.assert_allclose(
        plan.kwargs["input_mean"], X.mean(axis=(0, 1)), rtol=1e-5
    )
    assert set(plan.input_stats) == {"_input_mean", "_input_scale"}
    # only the training rows count
    plan = network_kwargs(est, seqs, n_outputs=1, train_idx=np.arange(10))
    np.testing.assert_allclose(
        plan.kwargs["input_mean"], X[:10].mean(axis=(0, 1)), rtol=1e-5
    )


def test_network_kwargs_for_tokens_and_module_kwargs_override(token_data):
    X, y, _ = token_data
    est = LSTMClassifier(module_kwargs={"hidden_size": 5})
    seqs, _, _ = check_sequences(est, X, y, reset=True)
    plan = network_kwargs(est, seqs, n_outputs=2)
    assert plan.n_tokens == int(X.max()) + 1 == plan.kwargs["n_tokens"]
    assert plan.kwargs["hidden_size"] == 5  # the escape hatch wins
    assert plan.input_stats == {}


def test_network_kwargs_refuse_what_cannot_be_built(token_data):
    X, y, _ = token_data
    est = LSTMClassifier(proj_size=8, hidden_size=8)
    seqs, _, _ = check_sequences(est, X, y, reset=True)
    with pytest.raises(ValueError, match="proj_size=8 must be smaller"):
        network_kwargs(est, seqs, n_outputs=2)
    big = X.copy()
    big[0, 0] = 2**26
    est = LSTMClassifier(embedding_dim=64)
    seqs, _, _ = check_sequences(est, big, y, reset=True)
    with pytest.raises(ValueError, match="Number the tokens 2, 3, ..."):
        network_kwargs(est, seqs, n_outputs=2)
