"""Estimators that start from a pretrained language model (``pretrained=``)."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from test_language_model import TINY_LM, make_corpus

import sklstm
from sklstm import LSTMClassifier, LSTMLanguageModel, LSTMRegressor, TextSequencer

#: small fine-tuning settings
FT = dict(max_epochs=10, batch_size=16, random_state=0)


def make_task(n=120, seed=0):
    """Reviews of the corpus's grammar, labelled by whether they praise."""
    rng = np.random.default_rng(seed)
    good, bad = ["good", "great", "fine"], ["bad", "awful", "poor"]
    texts, y = [], []
    for i in range(n):
        label = i % 2
        words = good if label else bad
        noun = rng.choice(["film", "plot", "cast", "story"])
        extra = " zorblax" if i % 3 == 0 else ""  # a word the model never read
        texts.append(f"the {noun} was {rng.choice(words)} .{extra}")
        y.append(label)
    return texts, np.array(y)


@pytest.fixture(scope="module")
def lm():
    return LSTMLanguageModel(**TINY_LM, max_epochs=2).fit(make_corpus())


@pytest.fixture(scope="module")
def task():
    return make_task()


@pytest.fixture(scope="module")
def fitted(lm, task):
    texts, y = task
    return LSTMClassifier(pretrained=lm, **FT).fit(texts, y)


def test_raw_text_in_predictions_out(fitted, task):
    texts, y = task
    assert fitted.predict(texts).shape == (len(texts),)
    proba = fitted.predict_proba(["the film was great .", "the plot was awful ."])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.score(texts, y) > 0.5
    # one pretrained network, not the members of the default from scratch
    assert type(fitted.net_.module_).__name__ == "SequenceNet"


def test_words_the_model_lacks_are_added_and_coverage_reported(fitted, lm, task):
    texts, _ = task
    vocab = fitted.sequencer_.vocabulary_
    assert "zorblax" in vocab and "zorblax" not in lm.sequencer_.vocabulary_
    # the pretrained ids are kept
    for tok, i in lm.sequencer_.vocabulary_.items():
        assert vocab[tok] == i
    n_tokens = sum(len(t.split()) for t in texts)
    assert fitted.vocabulary_coverage_ == pytest.approx(1 - 40 / n_tokens)


def test_the_network_starts_from_the_pretrained_weights(lm, task):
    texts, y = task
    # one epoch of gradual unfreezing trains only the output layer, so the
    # embedding and the LSTM are still exactly the language model's
    clf = LSTMClassifier(
        pretrained=lm, lm_epochs=0, **dict(FT, max_epochs=1, early_stopping=False)
    )
    clf.fit(texts, y)
    module = clf.net_.module_
    n = lm.module_.embedding.weight.shape[0]
    assert torch.equal(module.embedding.weight[:n], lm.module_.embedding.weight)
    for mine, theirs in zip(module.forward_layers, lm.module_.forward_layers):
        for k, v in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[k], v)
    # an added word starts at the mean of the pretrained vectors
    mean = lm.module_.embedding.weight[2:].mean(dim=0)
    added = clf.sequencer_.vocabulary_["zorblax"]
    torch.testing.assert_close(module.embedding.weight[added], mean)
    # later epochs train everything
    clf2 = LSTMClassifier(pretrained=lm, **dict(FT, early_stopping=False)).fit(texts, y)
    assert not torch.equal(
        clf2.net_.module_.embedding.weight[:n], lm.module_.embedding.weight
    )
    assert all(p.requires_grad for p in clf2.net_.module_.parameters())


def test_every_layer_learns_at_lr_unless_param_groups_say_otherwise(lm, fitted, task):
    # lr="auto" is 1e-2 for a pretrained network, for every layer (ULMFiT's
    # slower lower layers measured worse here: docs/pretraining.rst) ...
    groups = fitted.net_.optimizer_.param_groups
    assert [g["initial_lr"] for g in groups] == [pytest.approx(1e-2)]
    # ... and skorch's param_groups still set rates per layer
    texts, y = task
    clf = LSTMClassifier(
        pretrained=lm,
        optimizer_kwargs={"param_groups": [("embedding.*", {"lr": 1e-3})]},
        **FT,
    ).fit(texts, y)
    rates = sorted(g["initial_lr"] for g in clf.net_.optimizer_.param_groups)
    assert rates == [pytest.approx(1e-3), pytest.approx(1e-2)]


def test_the_language_model_is_not_changed(lm, task):
    texts, y = task
    before = {k: v.clone() for k, v in lm.module_.state_dict().items()}
    LSTMClassifier(pretrained=lm, lm_epochs=1, **FT).fit(texts, y)
    after = lm.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_lm_epochs_fine_tunes_a_copy_first(lm, task):
    texts, y = task
    a = LSTMClassifier(pretrained=lm, lm_epochs=1, **FT).fit(texts, y)
    b = LSTMClassifier(pretrained=lm, lm_epochs=0, **FT).fit(texts, y)
    assert not np.allclose(a.predict_proba(texts), b.predict_proba(texts))


def test_same_random_state_same_model(lm, task, fitted):
    texts, y = task
    again = LSTMClassifier(pretrained=lm, **FT).fit(texts, y)
    np.testing.assert_array_equal(
        again.predict_proba(texts), fitted.predict_proba(texts)
    )


def test_regressor_starts_from_the_language_model(lm, task):
    texts, y = task
    reg = LSTMRegressor(pretrained=lm, **FT).fit(texts, y.astype(float))
    assert reg.predict(texts).shape == (len(texts),)
    assert "zorblax" in reg.sequencer_.vocabulary_


# --- what cannot be mixed up ----------------------------------------------------------
def test_token_ids_are_refused(lm, task):
    texts, y = task
    ids = TextSequencer().fit_transform(texts)
    with pytest.raises(TypeError, match="drop the TextSequencer"):
        LSTMClassifier(pretrained=lm, **FT).fit(ids, y)
    with pytest.raises(TypeError, match="not token ids"):
        make_pipeline(TextSequencer(), LSTMClassifier(pretrained=lm, **FT)).fit(
            texts, y
        )


def test_token_ids_are_refused_at_prediction_too(fitted, task):
    texts, _ = task
    ids = fitted.sequencer_.transform(texts)
    with pytest.raises(TypeError, match="raw text"):
        fitted.predict(ids)


@pytest.mark.parametrize(
    "setting",
    [
        {"hidden_size": 64},
        {"embedding_dim": 64},
        {"num_layers": 2},
        {"bidirectional": True},
        {"cell": "gru"},
        {"proj_size": 4},
    ],
)
def test_settings_the_pretrained_network_fixes_are_refused(lm, task, setting):
    texts, y = task
    with pytest.raises(ValueError, match="cannot be used with pretrained"):
        LSTMClassifier(pretrained=lm, **setting, **FT).fit(texts, y)


def test_the_same_sizes_as_the_model_are_accepted(lm, task):
    texts, y = task
    LSTMClassifier(
        pretrained=lm, hidden_size=lm.hidden_size, embedding_dim=lm.embedding_dim, **FT
    ).fit(texts, y)


def test_an_unfitted_language_model_is_a_clear_error(task):
    texts, y = task
    with pytest.raises(NotFittedError, match="Fit it on unlabelled text first"):
        LSTMClassifier(pretrained=LSTMLanguageModel(), **FT).fit(texts, y)
    with pytest.raises(Exception, match="pretrained"):
        LSTMClassifier(pretrained="a-file-name.sklstm", **FT).fit(texts, y)


# --- clone, grid search, files ------------------------------------------------------------
def test_clone_keeps_the_fitted_language_model(lm):
    est = LSTMClassifier(pretrained=lm, lr=0.01)
    copy_ = clone(est)
    assert copy_.pretrained is lm
    assert copy_.lr == 0.01
    # an estimator without one clones as usual
    assert clone(LSTMClassifier()).pretrained is None


def test_grid_search_in_two_processes(lm, task):
    texts, y = task
    grid = GridSearchCV(
        LSTMClassifier(pretrained=lm, **dict(FT, max_epochs=2)),
        {"lr": [3e-3, 1e-2]},
        cv=2,
        n_jobs=2,
    )
    grid.fit(texts, y)
    best = grid.best_estimator_
    assert hasattr(best.pretrained, "module_")
    assert "zorblax" in best.sequencer_.vocabulary_
    assert best.predict(texts[:5]).shape == (5,)


def test_joblib_pickle_and_safe_format(fitted, task, tmp_path):
    texts, _ = task
    expected = fitted.predict_proba(texts)
    path = tmp_path / "model.sklstm"
    sklstm.save(fitted, path)
    joblib.dump(fitted, tmp_path / "model.joblib")
    for other in (
        pickle.loads(pickle.dumps(fitted)),
        joblib.load(tmp_path / "model.joblib"),
        sklstm.load(path),
    ):
        np.testing.assert_array_equal(other.predict_proba(texts), expected)
    # the loaded estimator still starts from the same language model
    loaded = sklstm.load(path)
    assert torch.equal(
        loaded.pretrained.module_.embedding.weight,
        fitted.pretrained.module_.embedding.weight,
    )
    assert clone(loaded).pretrained is loaded.pretrained


# --- models shipped with sklstm ------------------------------------------------------------
@pytest.fixture
def shipped_en(lm, tmp_path, monkeypatch):
    """A small model written as a shipped file and registered as "en"."""
    from sklstm import _shipped

    path = tmp_path / "models" / "lm_en.npz"
    path.parent.mkdir()
    sha = _shipped.write_model_file(lm, path, card={"corpus": "tests"})
    monkeypatch.setattr(_shipped, "_FOLDER", path.parent)
    monkeypatch.setitem(_shipped.SHIPPED, "en", ("lm_en.npz", sha))
    _shipped._cached.cache_clear()
    yield path
    _shipped._cached.cache_clear()


def test_a_shipped_model_file_reads_back_the_model(lm, shipped_en):
    from sklstm import _shipped

    loaded = _shipped.read_model_file(shipped_en, _shipped.SHIPPED["en"][1])
    corpus = make_corpus(30, seed=3)
    # float16 storage: the same model up to rounding
    assert loaded.score(corpus) == pytest.approx(lm.score(corpus), abs=2e-3)
    assert loaded.sequencer_.vocabulary_ == lm.sequencer_.vocabulary_
    assert loaded.card_ == {"corpus": "tests"}


def test_pretrained_en_trains_from_the_shipped_model(shipped_en, task):
    texts, y = task
    clf = LSTMClassifier(pretrained="en", **FT).fit(texts, y)
    assert clf.predict(texts[:3]).shape == (3,)
    assert clone(clf).pretrained == "en"
    # a copy for the user: changing it leaves the shipped one alone
    mine = sklstm.pretrained_language_model("en")
    mine.partial_fit(make_corpus(20))
    assert mine is not sklstm.pretrained_language_model("en")


def test_a_damaged_shipped_file_is_a_clear_error(shipped_en, task):
    data = bytearray(shipped_en.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shipped_en.write_bytes(bytes(data))
    texts, y = task
    with pytest.raises(ValueError, match="does not match its checksum"):
        LSTMClassifier(pretrained="en", **FT).fit(texts, y)


def test_an_unknown_shipped_name_is_a_clear_error(task, monkeypatch):
    from sklstm import _shipped

    monkeypatch.delitem(_shipped.SHIPPED, "en", raising=False)
    texts, y = task
    with pytest.raises(ValueError, match="ships no language model named 'en'"):
        LSTMClassifier(pretrained="en", **FT).fit(texts, y)


def test_importing_sklstm_reads_no_model_file():
    import subprocess
    import sys

    code = "import sklstm, sklstm._shipped as s; print(s._cached.cache_info().currsize)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0"


def test_explain_reads_raw_text_through_the_pretrained_tokenizer(fitted):
    e = sklstm.explain(fitted, ["the film was great . zorblax", "the plot was bad ."])
    tokens = [tok for tok, _ in e[0]]
    assert tokens == ["the", "film", "was", "great", ".", "zorblax"]
    assert len(e[1]) == 5


def test_the_shipped_english_model_reads_english():
    # the real file in sklstm/models: checksum, float16 weights, vocabulary
    lm = sklstm.pretrained_language_model("en")
    assert len(lm.sequencer_.vocabulary_) == 30000
    sentence = "the film was released in 1999 and was a commercial success ."
    shuffled = "success 1999 in a released the . was film commercial and was"
    assert lm.perplexity([sentence]) < lm.perplexity([shuffled]) / 3
    assert lm.card_["corpus"] == "wikipedia"


def test_freeze_embeddings_keeps_the_pretrained_vectors(lm, task):
    texts, y = task
    clf = LSTMClassifier(pretrained=lm, lm_epochs=0, freeze_embeddings=True, **FT)
    clf.fit(texts, y)
    n = lm.module_.embedding.weight.shape[0]
    module = clf.net_.module_
    assert torch.equal(module.embedding.weight[:n], lm.module_.embedding.weight)
    assert not module.embedding.weight.requires_grad
    # the LSTM did train
    assert not torch.equal(
        module.forward_layers[0].weight_hh_l0, lm.module_.forward_layers[0].weight_hh_l0
    )
