"""Several networks trained one after another that predict as one (n_members)."""

import numpy as np
import pytest
import torch
from conftest import make_token_data
from tiny import TINY

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._members import MemberMean, combine_outputs, members_of

#: three small members, a few epochs each
MEMBERS = dict(TINY, n_members=3, max_epochs=3, calibration=None)


@pytest.fixture(scope="module")
def tokens():
    X, y, _ = make_token_data(np.random.default_rng(0), n=120, max_len=12)
    return X, y


@pytest.fixture(scope="module")
def fitted(tokens):
    X, y = tokens
    return LSTMClassifier(**MEMBERS).fit(X, y)


def _member_outputs(model, X):
    """Each member's own outputs, as one network would give them."""
    module = model.net_.module_
    x = torch.as_tensor(X)
    lengths = torch.as_tensor(np.maximum((X != 0).sum(1), 1))
    with torch.no_grad():
        return [m(x, lengths).numpy() for m in members_of(module)]


# --- combining ------------------------------------------------------------------
def test_combined_softmax_is_the_mean_of_the_members_probabilities():
    z = torch.randn(5, 3, 4, dtype=torch.float64) * 5
    out = combine_outputs(z, "softmax")
    expected = torch.softmax(z, dim=2).mean(dim=1)
    assert torch.allclose(torch.softmax(out, dim=1), expected, atol=1e-12)


def test_combined_sigmoid_is_the_mean_of_the_members_probabilities():
    z = torch.randn(5, 3, 2, dtype=torch.float64) * 5
    out = combine_outputs(z, "sigmoid")
    assert torch.allclose(torch.sigmoid(out), torch.sigmoid(z).mean(1), atol=1e-12)


def test_combined_extreme_logits_stay_finite():
    z = torch.tensor([[[800.0, -800.0], [-800.0, 800.0]]], dtype=torch.float64)
    probs = torch.softmax(combine_outputs(z, "softmax"), dim=1)
    assert torch.allclose(probs, torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    assert torch.isfinite(combine_outputs(z, "sigmoid")).all()


def test_unknown_combine_is_refused():
    with pytest.raises(ValueError, match="combine"):
        combine_outputs(torch.zeros(1, 2, 1), "median")


# --- what "auto" trains ---------------------------------------------------------------
def test_auto_trains_three_small_members_for_token_ids(tokens):
    X, y = tokens
    clf = LSTMClassifier(max_epochs=1, random_state=0).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module, MemberMean) and len(module.members) == 3
    for member in module.members:
        assert member.embedding.embedding_dim == 64
        assert member.forward_layers[0].hidden_size == 64


def test_auto_trains_one_network_for_numbers():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    module = LSTMClassifier(max_epochs=1, random_state=0).fit(X, y).net_.module_
    assert not isinstance(module, MemberMean)
    assert module.forward_layers[0].hidden_size == 64


def test_auto_trains_one_network_to_continue(tokens):
    X, y = tokens
    auto = dict(TINY, n_members="auto")
    for model in (
        LSTMClassifier(**auto).partial_fit(X, y, classes=[0, 1]),
        LSTMClassifier(**auto, max_epochs=1, warm_start=True).fit(X, y),
    ):
        assert not isinstance(model.net_.module_, MemberMean)
        # a single network keeps the single-network sizes
        assert model.net_.module_.embedding.embedding_dim == TINY["embedding_dim"]


def test_several_members_cannot_continue_training(tokens):
    X, y = tokens
    with pytest.raises(ValueError, match="partial_fit trains one network"):
        LSTMClassifier(**MEMBERS).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="warm_start"):
        LSTMClassifier(**MEMBERS, warm_start=True).fit(X, y)


def test_partial_fit_after_members_is_refused_and_changes_nothing(fitted, tokens):
    X, y = tokens
    before = fitted.predict_proba(X)
    with pytest.raises(ValueError, match="one network"):
        fitted.partial_fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), before)


def test_n_members_is_validated(tokens):
    X, y = tokens
    with pytest.raises(ValueError, match="n_members"):
        LSTMClassifier(n_members=0).fit(X, y)


# --- what the members are -----------------------------------------------------------
def test_prediction_is_the_mean_of_the_members_probabilities(fitted, tokens):
    X, _ = tokens
    members = _member_outputs(fitted, X)
    expected = np.mean(
        [np.exp(z) / np.exp(z).sum(1, keepdims=True) for z in members], axis=0
    )
    np.testing.assert_allclose(fitted.predict_proba(X), expected, atol=1e-10)


def test_members_differ_from_each_other(fitted, tokens):
    X, _ = tokens
    a, b, c = _member_outputs(fitted, X)
    assert not np.allclose(a, b) and not np.allclose(b, c)


def test_first_member_is_the_single_network_of_the_same_seed(fitted, tokens):
    X, y = tokens
    single = LSTMClassifier(**dict(MEMBERS, n_members=1)).fit(X, y)
    first = fitted.net_.module_.members[0].state_dict()
    for key, value in single.net_.module_.state_dict().items():
        torch.testing.assert_close(first[key], value, rtol=0, atol=0)
    assert fitted.n_iter_ == single.n_iter_


def test_same_random_state_gives_the_same_members(fitted, tokens):
    X, y = tokens
    again = LSTMClassifier(**MEMBERS).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_fit_leaves_the_global_rng_alone(tokens):
    X, y = tokens
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    LSTMClassifier(**MEMBERS).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_members_ignore_padding(fitted, tokens):
    X, _ = tokens
    padded = np.hstack([X, np.zeros((len(X), 9), dtype=X.dtype)])
    np.testing.assert_allclose(
        fitted.predict_proba(padded), fitted.predict_proba(X), atol=1e-6
    )
    # one row alone (latency path) gives what it gives in a batch
    np.testing.assert_allclose(
        fitted.predict_proba(X[3:4]), fitted.predict_proba(X)[3:4], atol=1e-6
    )


def test_a_hook_on_the_joint_embedding_sees_the_call_and_changes_nothing(
    fitted, tokens
):
    # predictions skip the joint embedding's copy, unless something (Captum)
    # listens on it
    X, _ = tokens
    module = fitted.net_.module_
    plain = fitted.predict_proba(X)
    seen = []
    handle = module.embedding.register_forward_hook(
        lambda m, i, o: seen.append(o.shape)
    )
    try:
        hooked = fitted.predict_proba(X)
    finally:
        handle.remove()
    assert seen and seen[0][2] == sum(
        m.embedding.embedding_dim for m in members_of(module)
    )
    np.testing.assert_array_equal(hooked, plain)


def test_regressor_predicts_the_mean_of_its_members():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = X.sum(1)
    reg = LSTMRegressor(**dict(TINY, n_members=2, max_epochs=3, calibration=None))
    reg.fit(X, y)
    members = [z[:, 0] for z in _numeric_member_outputs(reg, X)]
    expected = np.mean(members, axis=0) * reg._y_scale[0] + reg._y_mean[0]
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-6, atol=1e-6)


def _numeric_member_outputs(model, X):
    module = model.net_.module_
    x = torch.as_tensor(X)[:, :, None]
    lengths = torch.full((len(X),), X.shape[1])
    with torch.no_grad():
        return [m(x, lengths).numpy() for m in members_of(module)]


def test_multilabel_members_average_label_probabilities(tokens):
    X, y = tokens
    Y = np.stack([y, 1 - y, (X[:, 0] > 15).astype(int)], axis=1)
    clf = LSTMClassifier(**MEMBERS).fit(X, Y)
    members = _member_outputs(clf, X)
    expected = np.mean([1 / (1 + np.exp(-z)) for z in members], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-8)


def test_refit_trains_every_member_again(tokens):
    X, y = tokens
    clf = LSTMClassifier(**dict(MEMBERS, refit=True, early_stopping=True)).fit(X, y)
    assert isinstance(clf.refit_epochs_, list) and len(clf.refit_epochs_) == 3
    assert len(clf.net_.module_.members) == 3


def test_attention_weights_of_members_sum_to_one(tokens):
    X, y = tokens
    clf = LSTMClassifier(**dict(MEMBERS, pooling="attention")).fit(X, y)
    weights = clf.attention_weights(X[:5])
    for w, n in zip(weights, (X[:5] != 0).sum(1)):
        assert len(w) == n
        assert w.sum() == pytest.approx(1.0)


def test_interrupt_in_a_later_member_keeps_the_finished_ones(tokens):
    from skorch.callbacks import Callback

    class CtrlC(Callback):
        """Ctrl-C in the first batch of the second member's second epoch."""

        def __init__(self):
            self.epochs = 0

        def on_epoch_begin(self, net, **kwargs):
            self.epochs += 1

        def on_batch_begin(self, net, **kwargs):
            if self.epochs == 3 + 2:  # member 1: 3 epochs; member 2: epoch 2
                raise KeyboardInterrupt

    X, y = tokens
    clf = LSTMClassifier(**dict(MEMBERS, early_stopping=False, callbacks=[CtrlC()]))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    # two members: the first, and the second's finished epoch
    assert len(clf.net_.module_.members) == 2
    assert clf.predict_proba(X).shape == (len(X), 2)
