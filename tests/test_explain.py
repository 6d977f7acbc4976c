"""sklstm.explain and attention_weights: completeness, padding, planted signals."""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

import sklstm._attribution
from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer, _explain_plot, explain
from sklstm._attribution import _input_and_baseline
from sklstm._ids import OOV_ID
from tests.tiny import TINY

NOISE = [f"w{i}" for i in range(30)]


def _completeness_error(e) -> np.ndarray:
    sums = np.array(
        [np.sum([a for _, a in d]) if e.kind == "text" else d.sum() for d in e]
    )
    delta = e.outputs - e.baseline_outputs
    return np.abs(sums - delta) / np.maximum(np.abs(delta), 1e-3)


def _planted_texts(n, seed):
    """Noise words plus one signal word ("up" or "down") that decides the label."""
    rng = np.random.default_rng(seed)
    docs, y, where = [], [], []
    for _ in range(n):
        words = list(rng.choice(NOISE, size=rng.integers(4, 12)))
        label = int(rng.integers(2))
        pos = int(rng.integers(len(words) + 1))
        words.insert(pos, "up" if label else "down")
        docs.append(" ".join(words))
        y.append(label)
        where.append(pos)
    return docs, np.array(y), np.array(where)


@pytest.fixture(scope="module")
def text_pipe():
    docs, y, _ = _planted_texts(600, seed=0)
    pipe = make_pipeline(
        TextSequencer(),
        LSTMClassifier(
            hidden_size=16,
            embedding_dim=8,
            max_epochs=12,
            early_stopping=False,
            token_dropout=0.0,
            random_state=0,
        ),
    )
    return pipe.fit(docs, y)


@pytest.fixture(scope="module")
def planted(text_pipe):
    docs, y, where = _planted_texts(200, seed=1)
    return docs, y, where, explain(text_pipe, docs)


def test_text_pairs_follow_the_documents(text_pipe, planted):
    docs, _, _, e = planted
    assert len(e) == len(docs) and e.kind == "text"
    for doc, pairs in zip(docs, e):
        assert [t for t, _ in pairs] == doc.split()
    proba = text_pipe.predict_proba(docs)
    np.testing.assert_allclose(e.outputs, proba.max(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(e.targets, text_pipe.predict(docs))


def test_completeness_on_text(planted):
    e = planted[3]
    assert _completeness_error(e).max() < 1e-2


def test_planted_token_gets_the_largest_attribution(text_pipe, planted):
    docs, y, where, e = planted
    assert (text_pipe.predict(docs) == y).mean() >= 0.95
    hits = [np.argmax(np.abs([a for _, a in pairs])) == w for pairs, w in zip(e, where)]
    assert np.mean(hits) >= 0.95


def test_target_class_and_its_complement(text_pipe, planted):
    docs = planted[0][:20]
    up = explain(text_pipe, docs, target=1)
    down = explain(text_pipe, docs, target=[0] * 20)
    np.testing.assert_array_equal(up.targets, 1)
    for a, b in zip(up, down):  # two classes: p(up) = 1 - p(down)
        np.testing.assert_allclose([v for _, v in a], [-v for _, v in b], atol=1e-6)
    with pytest.raises(ValueError, match="not a class of this model"):
        explain(text_pipe, docs, target="bullish")
    with pytest.raises(ValueError, match="one per row"):
        explain(text_pipe, docs, target=[0, 1])


def test_oov_words_and_empty_documents(text_pipe):
    e = explain(text_pipe, ["w1 neverseen up w2", ""])
    assert [t for t, _ in e[0]] == ["w1", "neverseen", "up", "w2"]
    assert e[0][1][1] == 0.0  # out-of-vocabulary: read as the baseline
    assert e[1] == []
    assert e.outputs[1] == e.baseline_outputs[1]


def test_html_and_figure(text_pipe):
    e = explain(text_pipe, ["w1 up w2", "down w3"])
    page = e._repr_html_()
    assert page.count("<span") == 5 and "<b>1</b>" in page  # label of row 0
    ax = e.plot(1)
    assert [t.get_text() for t in ax.texts] == ["down", "w3"]
    escaped = _explain_plot.text_html([[("<b>", 0.5), ("x", -1.0)]])
    assert "&lt;b&gt;" in escaped and "rgba(215,48,39,1.00)" in escaped


def test_errors(text_pipe):
    with pytest.raises(TypeError, match="LSTMClassifier or LSTMRegressor"):
        explain(TextSequencer().fit(["a"]), ["a"])
    with pytest.raises(ValueError, match="n_steps"):
        explain(text_pipe, ["up"], n_steps=0)


@pytest.fixture(scope="module")
def id_data():
    rng = np.random.default_rng(0)
    X = rng.integers(2, 20, size=(60, 10))
    lengths = rng.integers(2, 11, size=60)
    X[np.arange(10) >= lengths[:, None]] = 0
    return X, (X == 5).any(axis=1).astype(int)


CONFIGS = [
    dict(cell="lstm", pooling="last", bidirectional=True),
    dict(cell="gru", pooling="mean", num_layers=2),
    dict(cell="rnn", pooling="attention", bidirectional=True),
    dict(cell="peephole", pooling="last", bidirectional=True, num_layers=2),
    dict(cell="cifg", pooling="mean"),
    dict(cell="lstm", pooling="max", proj_size=4),
    dict(cell="gru", pooling="concat", bidirectional=True),
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: "-".join(map(str, c.values()))
)
def test_completeness_every_cell_and_pooling(id_data, config):
    X, y = id_data
    clf = LSTMClassifier(**TINY, max_epochs=2, early_stopping=False, **config).fit(X, y)
    # max pooling is only piecewise smooth: its integrand jumps where the
    # maximum changes step, and the quadrature needs more nodes
    n_steps = 50 if config["pooling"] in ("last", "mean", "attention") else 400
    e = explain(clf, X[:12], n_steps=n_steps)
    assert _completeness_error(e).max() < 1e-2
    assert [len(a) for a in e] == list((X[:12] != 0).cumsum(1).argmax(1) + 1)


def test_token_ids_padded_differently(id_data):
    X, y = id_data
    clf = LSTMClassifier(**TINY, max_epochs=2, bidirectional=True, pooling="mean")
    clf.fit(X, y)
    e = explain(clf, X)
    wider = explain(clf, np.pad(X, ((0, 0), (0, 7))))
    for a, b in zip(e, wider):
        np.testing.assert_array_equal(a, b)
    alone = explain(clf, X[:1])  # in a batch of its own: other neighbours
    np.testing.assert_allclose(alone[0], e[0], rtol=1e-5, atol=1e-7)
    assert e[0].shape == (int((X[0] != 0).nonzero()[0].max()) + 1,)


def test_pass_size_does_not_change_attributions(id_data, monkeypatch):
    # passes on a CPU are sized to stay in the cache; a row's attributions
    # must not depend on which rows share its pass, nor on how many
    X, y = id_data
    clf = LSTMClassifier(**TINY, max_epochs=2, num_layers=2).fit(X, y)
    e = explain(clf, X)
    monkeypatch.setattr(sklstm._attribution, "IG_CPU_GATE_VALUES", 1)
    one_row = explain(clf, X)  # every pass a single row
    for a, b in zip(e, one_row):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(e.outputs, one_row.outputs, rtol=1e-10)


def test_padding_and_oov_sit_on_the_baseline(id_data):
    X, y = id_data
    clf = LSTMClassifier(**TINY, max_epochs=1).fit(X, y)
    module = clf.net_.module_
    x = torch.tensor([[3, OOV_ID, 4, 0, 0]])
    with torch.no_grad():
        inp, base = _input_and_baseline(module, x, torch.tensor([3]))
    delta = (inp - base).abs().sum(2)[0]
    assert delta[1] == 0 and (delta[3:] == 0).all() and delta[0] > 0


def _planted_series(n, seed, T=40, window=5):
    """Noise in 2 channels; a bump in channel 0 at a random place decides the class."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, size=(n, T, 2))
    y = rng.integers(2, size=n)
    start = rng.integers(0, T - window, size=n)
    for i in range(n):
        X[i, start[i] : start[i] + window, 0] += 2.0 if y[i] else -2.0
    return X, y, start


def _planted_series_model(pooling):
    X, y, _ = _planted_series(300, seed=0)
    clf = LSTMClassifier(
        hidden_size=16,
        pooling=pooling,
        max_epochs=10,
        early_stopping=False,
        dropout=0.0,
        random_state=0,
    )
    return clf.fit(X, y)


@pytest.fixture(scope="module")
def series_model():
    # max pooling: the window's own states decide (last pooling learns a latch
    # that flips abruptly along the path, see docs/explanations.rst)
    return _planted_series_model("max")


def test_planted_window_gets_the_largest_attribution(series_model):
    X, y, start = _planted_series(100, seed=1)
    e = explain(series_model, X)
    assert e.kind == "numeric" and e[0].shape == (40, 2)
    hits = []
    for attr, s in zip(e, start):
        per_window = np.convolve(np.abs(attr).sum(1), np.ones(5), mode="valid")
        hits.append(abs(int(np.argmax(per_window)) - s) <= 1)
    assert (series_model.predict(X) == y).mean() >= 0.95
    assert np.mean(hits) >= 0.95
    ax = e.plot(0)
    assert ax.get_images()[0].get_array().shape == (2, 40)


def test_ragged_series_regressor_and_patches():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(k), 3)) for k in rng.integers(12, 30, size=40)]
    y = np.array([x[:, 1].sum() for x in X])
    reg = LSTMRegressor(**TINY, max_epochs=3, patch_size=4, pooling="mean").fit(X, y)
    e = explain(reg, X)
    assert [a.shape for a in e] == [x.shape for x in X]
    np.testing.assert_allclose(e.outputs, reg.predict(X), rtol=1e-6)
    assert _completeness_error(e).max() < 1e-2
    alone = explain(reg, X[3:4])
    np.testing.assert_allclose(alone[0], e[3], rtol=1e-5, atol=1e-7)
    assert e._repr_html_() is None  # numbers: plot() draws them


def test_univariate_and_multi_output_regressor():
    X = np.random.default_rng(0).normal(size=(30, 8))
    reg = LSTMRegressor(**TINY, max_epochs=2).fit(X, np.c_[X[:, 0], X[:, 1]])
    with pytest.raises(ValueError, match="pass target=<output index>"):
        explain(reg, X)
    e = explain(reg, X, target=1)
    assert e[0].shape == (8, 1)
    np.testing.assert_allclose(e.outputs, reg.predict(X)[:, 1], rtol=1e-6)


def test_attention_weights(id_data):
    X, y = id_data
    clf = LSTMClassifier(**TINY, max_epochs=2, pooling="attention", bidirectional=True)
    clf.fit(X, y)
    w = clf.attention_weights(X)
    lengths = (X != 0).cumsum(1).argmax(1) + 1
    assert [len(a) for a in w] == list(lengths)
    np.testing.assert_allclose([a.sum() for a in w], 1.0, rtol=1e-6)
    wider = clf.attention_weights(np.pad(X, ((0, 0), (0, 5))))
    for a, b in zip(w, wider):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="pooling='attention'"):
        LSTMClassifier(**TINY, max_epochs=1).fit(X, y).attention_weights(X)


def test_captum_recipe(text_pipe):
    captum_attr = pytest.importorskip(
        "captum.attr", reason="Captum comes with the interop extra"
    )
    docs = ["w1 up w2 w3", "down w4"]
    seq, clf = text_pipe[0], text_pipe[-1]
    ids = torch.as_tensor(seq.transform(docs), dtype=torch.long)
    lengths = (ids != 0).sum(1)
    module = clf.net_.module_.eval()
    baseline = torch.where(ids != 0, OOV_ID, 0)  # OOV inside each length

    def proba(x, lengths):
        return torch.softmax(module(x, lengths), dim=1)

    lig = captum_attr.LayerIntegratedGradients(proba, module.embedding)
    target = text_pipe.predict(docs).tolist()
    attr = lig.attribute(
        ids,
        baselines=baseline,
        additional_forward_args=(lengths,),
        target=target,
        n_steps=50,
    ).sum(2)
    e = explain(text_pipe, docs)
    for row, pairs, k in zip(attr, e, lengths):
        np.testing.assert_allclose(row[:k].numpy(), [a for _, a in pairs], atol=1e-5)
        assert (row[k:] == 0).all()


def test_shap_recipe(text_pipe):
    shap = pytest.importorskip("shap", reason="SHAP is not in any extra")
    docs = ["w1 up w2 w3"]
    masker = shap.maskers.Text(r"\W+")
    explainer = shap.Explainer(text_pipe.predict_proba, masker, output_names=["0", "1"])
    values = explainer(docs, max_evals=20, silent=True)
    total = values.base_values[0] + values.values[0].sum(0)
    np.testing.assert_allclose(total, text_pipe.predict_proba(docs)[0], atol=1e-6)
    # "up" (the second word) decides the label: its contribution is the largest
    assert np.argmax(np.abs(values.values[0][:, 1])) == 1


def test_abrupt_path_is_repaired_by_bisection():
    # last pooling: the planted-series model learns a latch that flips almost
    # discontinuously on the path from the baseline; 50 fixed nodes miss
    # completeness there, the adaptive bisection must not
    from sklstm._attribution import integrated_gradients
    from sklstm._explain import _readout
    from sklstm._validation import check_sequences

    clf = _planted_series_model("last")
    Xt = _planted_series(40, seed=1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no completeness warning: all add up
        e = explain(clf, Xt)
    assert _completeness_error(e).max() < 1e-2
    # the same rows with the fixed rule only: some miss (the test is not vacuous)
    seqs, _, _ = check_sequences(clf, Xt, reset=False, fitted=clf._input_spec())
    idx = np.searchsorted(clf.classes_, e.targets)
    fixed, values, base = integrated_gradients(
        clf.net_.module_, seqs, _readout(clf), idx, n_tokens=None
    )
    sums = np.array([a.sum() for a in fixed])
    assert (np.abs(sums - (values - base)) > 1e-2 * np.abs(values - base)).any()
    # the bisection reports the completeness error of what it returns, and
    # what it returns for a failing row adds up better than the fixed rule
    from sklstm._attribution import _bisected
    from sklstm._batching import SequenceDataset

    row = int(np.argmax(np.abs(sums - (values - base))))
    xb, _ = SequenceDataset(seqs, n_tokens=None).batch(np.array([row]))
    (refined,), (error,) = _bisected(
        clf.net_.module_.eval(),
        _readout(clf),
        xb["x"],
        xb["lengths"],
        torch.tensor([idx[row]]),
        tol=np.array([1e-4 * abs(values[row] - base[row])]),
    )
    delta = values[row] - base[row]
    assert error == pytest.approx(abs(refined.sum() - delta), abs=1e-6)
    assert error < abs(sums[row] - delta)


def test_failing_rows_are_refined_together(monkeypatch):
    # the bisection refines every failing row in the same passes: refining
    # many rows takes no more passes than one row's budget (one pass, then
    # one per halving), where one row at a time took two, then two per
    # halving, for each row
    from sklstm._attribution import REFINE_SEGMENTS, integrated_gradients
    from sklstm._explain import _readout
    from sklstm._validation import check_sequences

    clf = _planted_series_model("last")
    Xt = _planted_series(40, seed=1)[0]
    seqs, _, _ = check_sequences(clf, Xt, reset=False, fitted=clf._input_spec())
    module = clf.net_.module_
    idx = np.searchsorted(clf.classes_, clf.predict(Xt))
    passes = []
    run = sklstm._attribution._run
    monkeypatch.setattr(
        sklstm._attribution,
        "_run",
        lambda module, h, lengths: passes.append(len(h)) or run(module, h, lengths),
    )
    fixed, values, base = integrated_gradients(
        module, seqs, _readout(clf), idx, n_tokens=None
    )
    n_fixed = len(passes)
    sums = np.array([a.sum() for a in fixed])
    failing = np.abs(sums - (values - base)) > 5e-3 * np.abs(values - base) + 1e-7
    assert failing.sum() >= 3  # several rows to refine: the test is not vacuous
    refined, *_ = integrated_gradients(
        module, seqs, _readout(clf), idx, n_tokens=None, refine_rtol=5e-3
    )
    assert len(passes) - 2 * n_fixed <= REFINE_SEGMENTS
    for a, b, bad in zip(fixed, refined, failing):
        if not bad:  # rows that add up are left as the fixed rule gave them
            np.testing.assert_array_equal(a, b)
