"""Training controls: weights, schedules, callbacks, warm start, partial_fit,
multilabel targets, interruption, pooling, projections, pretrained vectors,
progress output and plots."""

import matplotlib
import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback, Checkpoint

from sklstm import (
    LSTMClassifier,
    LSTMRegressor,
    TextSequencer,
    load_word_vectors,
    plot_training_curves,
)

matplotlib.use("Agg")

TINY = dict(hidden_size=8, embedding_dim=8, random_state=0)
# a deterministic setup: one batch holds all samples, no dropout of any kind
EXACT = dict(
    TINY,
    batch_size=512,
    dropout=0.0,
    token_dropout=0.0,
    early_stopping=False,
    max_epochs=4,
    lr=1e-2,
)


# --- sample_weight and class_weight ------------------------------------------
@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
def test_weight_two_equals_duplicating(Est, make_tokens):
    X, y, _ = make_tokens(n=120)
    if Est is LSTMRegressor:
        y = y.astype(float) + X[:, 0] / 50.0
    k = 30
    X_dup = np.concatenate([X, X[:k]])
    y_dup = np.concatenate([y, y[:k]])
    w = np.ones(len(X))
    w[:k] = 2.0
    a = Est(**EXACT).fit(X, y, sample_weight=w)
    b = Est(**EXACT).fit(X_dup, y_dup)
    out_a = a.predict_proba(X) if Est is LSTMClassifier else a.predict(X)
    out_b = b.predict_proba(X) if Est is LSTMClassifier else b.predict(X)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)
    # and weights do matter: unweighted differs
    c = Est(**EXACT).fit(X, y)
    assert not np.allclose(c.loss_curve_, a.loss_curve_)


def test_numeric_scaling_is_weighted(rng):
    X = rng.normal(size=(60, 5, 2))
    X[:20] += 10.0
    y = rng.normal(size=60)
    w = np.ones(60)
    w[:20] = 3.0
    a = LSTMRegressor(**EXACT).fit(X, y, sample_weight=w)
    b = LSTMRegressor(**EXACT).fit(
        np.concatenate([X, X[:20], X[:20]]), np.concatenate([y, y[:20], y[:20]])
    )
    np.testing.assert_allclose(a._input_mean, b._input_mean, rtol=1e-5)
    np.testing.assert_allclose(a._input_scale, b._input_scale, rtol=1e-5)
    np.testing.assert_allclose(a._y_mean, b._y_mean)


def test_class_weight_balanced_equals_explicit_weights(make_tokens):
    X, y, _ = make_tokens(n=150)
    keep = np.r_[np.nonzero(y == 0)[0][:20], np.nonzero(y == 1)[0]]
    X, y = X[keep], y[keep]
    counts = np.bincount(y)
    balanced = LSTMClassifier(class_weight="balanced", **EXACT).fit(X, y)
    as_dict = LSTMClassifier(
        class_weight={0: len(y) / (2 * counts[0]), 1: len(y) / (2 * counts[1])},
        **EXACT,
    ).fit(X, y)
    as_sw = LSTMClassifier(**EXACT).fit(X, y, sample_weight=(len(y) / (2 * counts))[y])
    np.testing.assert_allclose(balanced.loss_curve_, as_dict.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(balanced.loss_curve_, as_sw.loss_curve_, rtol=1e-6)
    # the minority class gains probability compared with no weighting
    plain = LSTMClassifier(**EXACT).fit(X, y)
    assert balanced.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean()


def test_class_weight_and_sample_weight_errors(token_data):
    X, y, _ = token_data
    with pytest.raises(ValueError, match="not classes of y"):
        LSTMClassifier(class_weight={5: 2.0}, **EXACT).fit(X, y)
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        LSTMClassifier(**EXACT).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        LSTMClassifier(**EXACT).fit(X, y, sample_weight=-np.ones(len(y)))


def test_sample_weight_metadata_routing(make_tokens):
    X, y, _ = make_tokens(n=80)
    w = np.linspace(0.5, 2.0, len(y))
    with config_context(enable_metadata_routing=True):
        est = LSTMClassifier(**EXACT).set_fit_request(sample_weight=True)
        search = GridSearchCV(
            make_pipeline(est),
            {"lstmclassifier__hidden_size": [8]},
            cv=2,
            scoring=make_scorer(accuracy_score).set_score_request(sample_weight=True),
        )
        search.fit(X, y, sample_weight=w)
        routed = search.best_estimator_[-1]
    direct = LSTMClassifier(**EXACT).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(routed.loss_curve_, direct.loss_curve_, rtol=1e-6)


# --- schedules, optimizer options, callbacks ---------------------------------
def test_lr_schedules(token_data):
    X, y, _ = token_data
    cos = LSTMClassifier(lr_schedule="cosine", **dict(EXACT, max_epochs=5)).fit(X, y)
    lrs = cos.net_.history[:, "event_lr"]
    assert lrs[0] == pytest.approx(1e-2)
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    plateau = LSTMClassifier(
        lr_schedule="plateau", n_iter_no_change=2, tol=10.0, **dict(EXACT, max_epochs=6)
    )
    # tol=10 makes every epoch count as 'no improvement' for early stopping,
    # so this only checks that the plateau schedule is installed and runs
    plateau.fit(X, y)
    assert "lr_schedule" in dict(plateau.net_.callbacks_)


def test_weight_decay_and_optimizer_reach_torch(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(
        optimizer="adamw", weight_decay=0.05, **dict(EXACT, max_epochs=1)
    ).fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.AdamW)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.05


class _CountEpochs(Callback):
    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_user_callbacks_run_and_clone(token_data, tmp_path):
    X, y, _ = token_data
    counter = _CountEpochs()
    ckpt = Checkpoint(dirname=str(tmp_path), monitor="train_loss_best")
    clf = LSTMClassifier(callbacks=[counter, ("ckpt", ckpt)], **EXACT)
    cloned = clone(clf)
    assert cloned.callbacks[0] is not counter
    clf.fit(X, y)
    assert counter.epochs_ == clf.n_iter_
    assert (tmp_path / "params.pt").exists()
    with pytest.raises(TypeError, match="skorch Callback"):
        LSTMClassifier(callbacks=["nope"], **EXACT).fit(X, y)


# --- warm_start and partial_fit ---------------------------------------------
def test_warm_start_continues(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, max_epochs=2)).fit(X, y)
    first_curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.n_iter_ == 4
    assert clf.loss_curve_[:2] == first_curve
    # continuing equals training 4 epochs in one go only approximately (the
    # batch order differs), but the loss keeps going down
    assert clf.loss_curve_[-1] < first_curve[-1]
    cold = LSTMClassifier(**dict(EXACT, max_epochs=2)).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 2


def test_warm_start_rejects_new_classes_and_keeps_model(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, max_epochs=2)).fit(X, y)
    before = clf.predict_proba(X)
    net = clf.net_
    y_bad = y.copy()
    y_bad[0] = 7
    with pytest.raises(ValueError, match="not seen in the first fit"):
        clf.fit(X, y_bad)
    assert clf.net_ is net
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_partial_fit(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**EXACT)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    # three partial_fit calls on the same data equal one fit of 3 epochs
    # only when the batches are the same: here one batch holds everything
    full = LSTMClassifier(**dict(EXACT, max_epochs=3, n_iter_no_change=10)).fit(X, y)
    np.testing.assert_allclose(clf.loss_curve_, full.loss_curve_, rtol=1e-4)
    reg = LSTMRegressor(**EXACT)
    reg.partial_fit(X, y.astype(float))
    reg.partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 2
    with pytest.raises(ValueError, match="targets per sample"):
        reg.partial_fit(X, np.c_[y, y].astype(float))


# --- multilabel ---------------------------------------------------------------
def test_multilabel(rng):
    X = rng.integers(2, 30, size=(300, 8))
    Y = np.c_[(X == 5).any(axis=1), (X == 6).any(axis=1), (X == 7).any(axis=1)]
    Y = Y.astype(int)
    clf = LSTMClassifier(
        **dict(TINY, hidden_size=16, lr=1e-2, max_epochs=25, early_stopping=False)
    ).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred = clf.predict(X)
    assert pred.shape == (300, 3) and set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert (pred == Y).mean() > 0.8
    with pytest.raises(ValueError, match="multilabel"):
        LSTMClassifier(class_weight="balanced", **EXACT).fit(X, Y)


def test_multiclass_multioutput_rejected(rng):
    X = rng.integers(2, 30, size=(40, 8))
    with pytest.raises(ValueError, match="binary indicator"):
        LSTMClassifier(**EXACT).fit(X, rng.integers(0, 3, size=(40, 2)))


# --- interruption --------------------------------------------------------------
class _CtrlC(Callback):
    """Raises KeyboardInterrupt in the middle of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training, **kwargs):
        if training and len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_last_finished_epoch(token_data):
    X, y, _ = token_data
    params = dict(EXACT, batch_size=16, max_epochs=10)
    clf = LSTMClassifier(callbacks=[_CtrlC(3)], **params)
    with pytest.raises(KeyboardInterrupt, match="epoch 2"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    reference = LSTMClassifier(**dict(params, max_epochs=2)).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.loss_curve_ == reference.loss_curve_


def test_ctrl_c_in_first_epoch_leaves_estimator_as_it_was(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(callbacks=[_CtrlC(1)], **dict(EXACT, batch_size=16))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_ctrl_c_during_warm_start_keeps_finished_epochs(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(warm_start=True, **dict(EXACT, batch_size=16, max_epochs=2))
    clf.fit(X, y)
    clf.set_params(callbacks=[_CtrlC(4)], max_epochs=5)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert clf.predict(X).shape == (len(X),)


# --- network options ---------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_leaks_into_pooling(pooling, bidirectional, make_tokens):
    X, y, _ = make_tokens(n=60)
    clf = LSTMClassifier(
        pooling=pooling, bidirectional=bidirectional, **dict(EXACT, max_epochs=1)
    ).fit(X, y)
    wider = np.pad(X, ((0, 0), (0, 7)))
    np.testing.assert_allclose(
        clf.predict_proba(wider), clf.predict_proba(X), atol=1e-6
    )
    ragged = [row[: max(1, int(np.flatnonzero(row).max(initial=0)) + 1)] for row in X]
    np.testing.assert_allclose(
        clf.predict_proba(ragged), clf.predict_proba(X), atol=1e-6
    )


def test_attention_weights_ignore_padding():
    from sklstm._module import SequenceNet

    torch.manual_seed(0)
    net = SequenceNet(
        n_outputs=2, n_tokens=20, hidden_size=4, embedding_dim=4, pooling="attention"
    ).eval()
    x = torch.tensor([[3, 4, 5, 0, 0]])
    garbage = torch.tensor([[3, 4, 5, 9, 9]])
    with torch.no_grad():
        a = net(x, torch.tensor([3]))
        b = net(garbage, torch.tensor([3]))
    torch.testing.assert_close(a, b)


def test_proj_size(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(proj_size=4, **dict(EXACT, max_epochs=1)).fit(X, y)
    assert clf.net_.module_.forward_layers[0].proj_size == 4
    assert clf.net_.module_.head.in_features == 4
    with pytest.raises(ValueError, match="only available for cell='lstm'"):
        LSTMClassifier(proj_size=4, cell="gru", **EXACT).fit(X, y)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        LSTMClassifier(proj_size=8, **EXACT).fit(X, y)


def test_scale_inputs_off(rng):
    X = rng.normal(loc=5.0, scale=3.0, size=(40, 6, 2))
    y = rng.integers(0, 2, size=40)
    on = LSTMClassifier(**dict(EXACT, max_epochs=1)).fit(X, y)
    off = LSTMClassifier(scale_inputs=False, **dict(EXACT, max_epochs=1)).fit(X, y)
    assert np.abs(on._input_mean - 5.0).max() < 1.0
    np.testing.assert_array_equal(off._input_mean, 0.0)
    np.testing.assert_array_equal(off._input_scale, 1.0)


# --- pretrained word vectors ---------------------------------------------------------
def _write_vectors(path, rows, header=False):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write(f"{len(rows)} {len(next(iter(rows.values())))}\n")
        for word, vec in rows.items():
            f.write(word + " " + " ".join(f"{v:.6f}" for v in vec) + "\n")


@pytest.mark.parametrize("header", [False, True])
def test_load_word_vectors(tmp_path, header):
    texts = ["good film", "bad film", "great 电影", "good 电影"] * 3
    seq = TextSequencer(min_frequency=1).fit(texts)
    vecs = {"good": [1, 0, 0], "film": [0, 1, 0], "电": [0, 0, 1], "Unused": [5, 5, 5]}
    path = tmp_path / "vectors.txt"
    _write_vectors(path, vecs, header=header)
    E = load_word_vectors(path, seq, random_state=0)
    vocab = seq.vocabulary_
    assert E.shape == (max(vocab.values()) + 1, 3) and E.dtype == np.float32
    np.testing.assert_array_equal(E[0], 0)
    np.testing.assert_allclose(E[vocab["good"]], [1, 0, 0])
    np.testing.assert_allclose(E[vocab["电"]], [0, 0, 1])
    np.testing.assert_allclose(E[1], np.mean([[1, 0, 0], [0, 1, 0], [0, 0, 1]], axis=0))
    # a missing word gets a seeded random vector
    E2 = load_word_vectors(path, seq, random_state=0)
    np.testing.assert_array_equal(E[vocab["bad"]], E2[vocab["bad"]])
    assert np.abs(E[vocab["bad"]]).sum() > 0


def test_load_word_vectors_errors(tmp_path):
    seq = TextSequencer(min_frequency=1).fit(["good film"])
    bad = tmp_path / "bad.txt"
    bad.write_text("good 1 2\nfilm 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_word_vectors(bad, seq)
    none = tmp_path / "none.txt"
    none.write_text("other 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="None of the"):
        load_word_vectors(none, seq)


@pytest.mark.parametrize("freeze", [False, True])
def test_embeddings_initialise_and_freeze(tmp_path, freeze):
    texts = ["good film", "bad film", "great movie", "awful movie"] * 10
    labels = [1, 0, 1, 0] * 10
    seq = TextSequencer(min_frequency=1).fit(texts)
    vecs = {
        w: np.random.default_rng(i).normal(size=6)
        for i, w in enumerate(seq.vocabulary_)
    }
    path = tmp_path / "v.txt"
    _write_vectors(path, vecs)
    E = load_word_vectors(path, seq, random_state=0)
    clf = LSTMClassifier(
        embeddings=E, freeze_embeddings=freeze, **dict(EXACT, embedding_dim=99)
    ).fit(seq.transform(texts), labels)
    weight = clf.net_.module_.embedding.weight.detach().numpy()
    assert weight.shape[1] == 6  # the matrix decides the width
    if freeze:
        np.testing.assert_allclose(weight[: len(E)], E, atol=1e-6)
    else:
        assert not np.allclose(weight[2 : len(E)], E[2:], atol=1e-4)
    with pytest.raises(ValueError, match="2-D array"):
        LSTMClassifier(embeddings=np.ones(5), **EXACT).fit(seq.transform(texts), labels)


# --- progress and plots -----------------------------------------------------------------
def test_verbose_prints_epoch_table_and_progress_bar(token_data, capsys):
    X, y, _ = token_data
    LSTMClassifier(verbose=1, **dict(EXACT, max_epochs=2)).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "dur" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2
    LSTMClassifier(verbose=2, **dict(EXACT, max_epochs=1)).fit(X, y)
    captured = capsys.readouterr()
    assert "it/s" in captured.err or "it/s" in captured.out
    LSTMClassifier(verbose=0, **dict(EXACT, max_epochs=1)).fit(X, y)
    assert capsys.readouterr().out == ""


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


# --- every cell through the estimators ------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole", "cifg"])
def test_every_cell_stacks_bidirectional_and_ignores_padding(cell, make_tokens):
    X, y, _ = make_tokens(n=80)
    clf = LSTMClassifier(
        cell=cell,
        num_layers=2,
        bidirectional=True,
        **dict(EXACT, dropout=0.3, max_epochs=2),
    ).fit(X, y)
    from sklstm._module import _CELLS

    assert type(clf.net_.module_.forward_layers[1]) is _CELLS[cell]
    assert type(clf.net_.module_.backward_layers[0]) is _CELLS[cell]
    np.testing.assert_allclose(
        clf.predict_proba(np.pad(X, ((0, 0), (0, 5)))), clf.predict_proba(X), atol=1e-6
    )
    same = LSTMClassifier(
        cell=cell,
        num_layers=2,
        bidirectional=True,
        **dict(EXACT, dropout=0.3, max_epochs=2),
    ).fit(X, y)
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))


def test_classifier_and_regressor_share_defaults():
    # LSTMClassifier spells out its signature (scikit-learn needs explicit
    # parameters); its shared defaults must not drift from the base class
    import inspect

    from sklstm._base import _BaseLSTM

    base = inspect.signature(_BaseLSTM.__init__).parameters
    for Est in (LSTMClassifier, LSTMRegressor):
        params = inspect.signature(Est.__init__).parameters
        assert {k: params[k].default for k in base} == {
            k: v.default for k, v in base.items()
        }
