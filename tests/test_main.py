"""The main job (python -m sklstm) reports sklstm beside the linear baseline."""

import re

from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

import sklstm.__main__ as main_job
from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_financial_tweets


def _small(subset, **kwargs):
    full = load_financial_tweets(subset=subset)
    n = 400 if subset == "train" else 150
    return Bunch(
        data=full.data[:n], target=full.target[:n], target_names=full.target_names
    )


def _tiny_pipeline(random_state, verbose, from_scratch=False):
    return make_pipeline(
        TextSequencer(),
        LSTMClassifier(
            hidden_size=8, embedding_dim=8, max_epochs=2, early_stopping=True,
            random_state=random_state, verbose=verbose,
        ),
    )  # fmt: skip


def test_main_job_prints_the_baseline_on_the_same_split(monkeypatch, capsys):
    monkeypatch.setattr(main_job, "load_financial_tweets", _small)
    monkeypatch.setattr(main_job, "_pipeline", _tiny_pipeline)
    acc = main_job.run_tweets(random_state=0, verbose=0, from_scratch=True)
    out = capsys.readouterr().out
    assert f"validation accuracy: {acc:.4f}" in out
    m = re.search(
        r"baseline \(TF-IDF.*same split\): (0\.\d{4}).*sklstm - baseline: ([+-]\d+\.\d) points",
        out,
    )
    assert m, out
    assert abs(100 * (acc - float(m.group(1))) - float(m.group(2))) < 0.06


def test_main_job_shows_progress_and_plain_class_names(monkeypatch, capsys):
    # the estimator's own per-epoch lines while it trains (its verbose), and
    # class names as text, not numpy reprs (np.str_('Bearish'))
    monkeypatch.setattr(main_job, "load_financial_tweets", _small)
    monkeypatch.setattr(main_job, "_pipeline", _tiny_pipeline)
    main_job.main([])
    out = capsys.readouterr().out
    assert "classes Bearish, Bullish, Neutral\n" in out
    assert "np.str_" not in out
    assert re.search(r"epoch +train_loss +valid_loss", out), out
    main_job.main(["--verbose", "0"])
    assert "train_loss" not in capsys.readouterr().out


def test_main_job_fine_tunes_the_shipped_english_model(monkeypatch, capsys):
    # the default model is LSTMClassifier(pretrained="en") on raw text; the
    # pipeline from scratch is one flag away
    assert main_job._pipeline(0, 0).pretrained == "en"
    assert isinstance(main_job._pipeline(0, 0, from_scratch=True)[0], TextSequencer)
    monkeypatch.setattr(main_job, "load_financial_tweets", _small)
    original = main_job._pipeline

    def short(random_state, verbose, from_scratch=False):
        model = original(random_state, verbose, from_scratch)
        return model.set_params(max_epochs=2, lm_epochs=0)

    monkeypatch.setattr(main_job, "_pipeline", short)
    acc = main_job.run_tweets(random_state=0, verbose=0)
    out = capsys.readouterr().out
    assert 'LSTMClassifier(pretrained="en")' in out
    assert f"validation accuracy: {acc:.4f}" in out
