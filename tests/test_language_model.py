"""LSTMLanguageModel: fitting, scoring, chunks, resuming, Ctrl-C, saving."""

import copy
import pickle

import numpy as np
import pytest
import torch

import sklstm
from sklstm import LSTMLanguageModel, TextSequencer
from sklstm._lm_module import LanguageNet
from sklstm.datasets import TextLines

#: a small network that fits a few hundred documents in about a second
TINY_LM = dict(
    embedding_dim=16, hidden_size=16, bptt=12, batch_size=8, lr=1e-2, random_state=0
)

_ADJ = ["good", "bad", "great", "awful", "fine", "poor"]
_NOUN = ["film", "plot", "cast", "story", "actor", "score"]
_VERB = ["was", "seemed", "felt", "looked"]


def make_corpus(n=300, seed=0):
    """Documents of a tiny grammar: 'the <noun> <verb> <adj> .' repeated."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        parts = []
        for _ in range(rng.integers(1, 4)):
            parts.append(
                f"the {rng.choice(_NOUN)} {rng.choice(_VERB)} {rng.choice(_ADJ)} ."
            )
        docs.append(" ".join(parts))
    return docs


@pytest.fixture(scope="module")
def corpus():
    return make_corpus()


@pytest.fixture(scope="module")
def fitted(corpus):
    return LSTMLanguageModel(**TINY_LM, max_epochs=3).fit(corpus)


def _weights(lm):
    return {k: v.clone() for k, v in lm.module_.state_dict().items()}


def _same_weights(a, b):
    wa, wb = a.module_.state_dict(), b.module_.state_dict()
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# --- what a fit learns ------------------------------------------------------------
def test_fit_learns_the_language(fitted, corpus):
    held = make_corpus(50, seed=1)
    # the grammar is far more predictable than a uniform guess over the
    # vocabulary, and more than the word frequencies alone
    n_ids = len(fitted.sequencer_.vocabulary_) + 2
    assert fitted.perplexity(held) < n_ids / 3
    shuffled = [" ".join(np.random.default_rng(0).permutation(d.split())) for d in held]
    assert fitted.score(held) > fitted.score(shuffled)
    assert fitted.perplexity(held) == pytest.approx(np.exp(-fitted.score(held)))
    assert fitted.loss_curve_[1] < fitted.loss_curve_[0]
    assert fitted.n_iter_ == 3 and fitted.n_steps_ > 0
    assert fitted.vocabulary_coverage_ == 1.0  # every word occurs twice or more


def test_vocabulary_is_what_a_text_sequencer_learns_on_the_whole_corpus(corpus):
    # read in chunks of a few documents, the vocabulary is the same
    lm = LSTMLanguageModel(**TINY_LM, chunk_size=200).fit(corpus)
    assert lm.sequencer_.vocabulary_ == TextSequencer().fit(corpus).vocabulary_


def test_a_given_sequencer_is_cloned_and_used(corpus):
    seq = TextSequencer(analyzer="char", min_frequency=1)
    lm = LSTMLanguageModel(**TINY_LM, sequencer=seq).fit(corpus[:50])
    assert not hasattr(seq, "vocabulary_")  # the user's is left unfitted
    assert set(lm.sequencer_.vocabulary_) == set("".join(corpus[:50]).replace(" ", ""))


def test_chunks_bound_what_is_tokenized_at_a_time(corpus, monkeypatch):
    # memory: one chunk of documents is tokenized and held at a time
    seen = []
    original = TextSequencer._flat_ids

    def spy(self, docs):
        seen.append(sum(map(len, docs)))
        return original(self, docs)

    monkeypatch.setattr(TextSequencer, "_flat_ids", spy)
    longest = max(map(len, corpus))
    LSTMLanguageModel(**TINY_LM, chunk_size=500).fit(corpus)
    assert len(seen) > 10
    assert max(seen) < 500 + longest


def test_same_random_state_same_model_and_caller_rng_untouched(corpus):
    torch.manual_seed(123)
    np.random.seed(5)
    before_torch, before_np = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = LSTMLanguageModel(**TINY_LM).fit(corpus)
    b = LSTMLanguageModel(**TINY_LM).fit(corpus)
    assert _same_weights(a, b)
    assert torch.equal(torch.get_rng_state(), before_torch)
    np.testing.assert_array_equal(np.random.get_state()[1], before_np)
    c = LSTMLanguageModel(**dict(TINY_LM, random_state=1)).fit(corpus)
    assert not _same_weights(a, c)


def test_adaptive_softmax_for_large_vocabularies():
    words = [f"w{i}" for i in range(5000)]
    docs = [" ".join(words[i : i + 50]) for i in range(0, 5000, 25)] * 2
    lm = LSTMLanguageModel(**TINY_LM).fit(docs)
    assert isinstance(lm.module_.decoder, torch.nn.AdaptiveLogSoftmaxWithLoss)
    full = LSTMLanguageModel(**TINY_LM, softmax="full").fit(docs[:20])
    assert isinstance(full.module_.decoder, torch.nn.Linear)
    # either way the next-token probabilities sum to one
    for model in (lm, full):
        x = torch.tensor([[2, 3, 4]])
        p = model.module_.log_probabilities(x).exp().sum(dim=-1)
        np.testing.assert_allclose(p.detach().numpy(), 1.0, rtol=1e-4)


def test_adaptive_softmax_refuses_a_tiny_vocabulary():
    with pytest.raises(ValueError, match="larger vocabulary"):
        LSTMLanguageModel(**TINY_LM, softmax="adaptive").fit(["a b", "a b"])


# --- input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, error, match",
    [
        ("one string", TypeError, "single string"),
        ([b"bytes"], TypeError, "decode"),
        (["ok", 3], TypeError, "Document 1"),
        ([], ValueError, "at least one document"),
        (5, TypeError, "iterable of texts"),
    ],
)
def test_bad_corpus_is_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        LSTMLanguageModel(**TINY_LM).fit(X)


def test_fit_refuses_an_iterator_it_cannot_read_twice(corpus):
    with pytest.raises(TypeError, match="read only once"):
        LSTMLanguageModel(**TINY_LM).fit(iter(corpus))
    # partial_fit takes a chunk as it comes
    lm = LSTMLanguageModel(**TINY_LM).partial_fit(iter(corpus))
    assert lm.n_iter_ == 1


def test_text_lines_reads_a_file_again_on_every_pass(corpus, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(corpus) + "\n", encoding="utf-8")
    from_file = LSTMLanguageModel(**TINY_LM, max_epochs=2).fit(TextLines(path))
    from_list = LSTMLanguageModel(**TINY_LM, max_epochs=2).fit(corpus)
    assert _same_weights(from_file, from_list)


# --- partial_fit ------------------------------------------------------------------
def test_partial_fit_goes_on_with_the_same_vocabulary(corpus):
    lm = LSTMLanguageModel(**TINY_LM).partial_fit(corpus[:100])
    vocab = dict(lm.sequencer_.vocabulary_)
    steps = lm.n_steps_
    lm.partial_fit(corpus[100:] + ["unseenword " * 5])
    assert lm.sequencer_.vocabulary_ == vocab
    assert lm.n_iter_ == 2 and lm.n_steps_ > steps


# --- resuming and Ctrl-C --------------------------------------------------------------
def _interrupt_at_step(monkeypatch, step):
    """Make the training forward pass raise KeyboardInterrupt at call ``step``."""
    calls = {"n": 0}
    original = LanguageNet.forward

    def forward(self, x, y):
        calls["n"] += 1
        if calls["n"] == step:
            raise KeyboardInterrupt
        return original(self, x, y)

    monkeypatch.setattr(LanguageNet, "forward", forward)
    return calls


def test_ctrl_c_keeps_the_last_finished_step(corpus, monkeypatch):
    _interrupt_at_step(monkeypatch, 6)
    lm = LSTMLanguageModel(**TINY_LM)
    with pytest.raises(KeyboardInterrupt, match="keeps step 5"):
        lm.fit(corpus)
    assert lm.n_steps_ == 5
    monkeypatch.undo()
    assert np.isfinite(lm.score(corpus[:10]))


def test_ctrl_c_before_the_first_step_leaves_the_model_as_it_was(corpus, monkeypatch):
    _interrupt_at_step(monkeypatch, 1)
    lm = LSTMLanguageModel(**TINY_LM)
    with pytest.raises(KeyboardInterrupt):
        lm.fit(corpus)
    assert not hasattr(lm, "module_")


def test_resumed_fit_ends_where_an_uninterrupted_fit_ends(
    corpus, tmp_path, monkeypatch
):
    settings = dict(TINY_LM, max_epochs=2, chunk_size=400)
    whole = LSTMLanguageModel(**settings).fit(corpus)
    path = tmp_path / "lm.ckpt"
    # interrupted in the middle of a chunk of the second epoch
    total = whole.n_steps_
    _interrupt_at_step(monkeypatch, total // 2 + total // 4)
    with pytest.raises(KeyboardInterrupt, match="resumes from the checkpoint"):
        LSTMLanguageModel(**settings, checkpoint=path).fit(corpus)
    monkeypatch.undo()
    assert path.exists()
    resumed = LSTMLanguageModel(**settings, checkpoint=path).fit(corpus)
    assert resumed.n_steps_ == total
    assert _same_weights(resumed, whole)
    assert resumed.loss_curve_ == pytest.approx(whole.loss_curve_)
    # a finished checkpoint gives the finished model without training
    again = LSTMLanguageModel(**settings, checkpoint=path).fit(corpus)
    assert _same_weights(again, whole)


def test_periodic_checkpoints_are_written(corpus, tmp_path):
    path = tmp_path / "lm.ckpt"
    LSTMLanguageModel(**TINY_LM, checkpoint=path, checkpoint_every=0).fit(corpus)
    assert path.exists()


@pytest.mark.parametrize(
    "change, match",
    [({"hidden_size": 8}, "other settings"), ({"random_state": 7}, "random_state")],
)
def test_a_checkpoint_of_another_fit_is_refused(corpus, tmp_path, change, match):
    path = tmp_path / "lm.ckpt"
    LSTMLanguageModel(**TINY_LM, checkpoint=path).fit(corpus[:50])
    with pytest.raises(ValueError, match=match):
        LSTMLanguageModel(**dict(TINY_LM, **change), checkpoint=path).fit(corpus[:50])
    with pytest.raises(ValueError, match="another corpus"):
        LSTMLanguageModel(**TINY_LM, checkpoint=path).fit(corpus[50:100])


def test_a_file_that_is_no_checkpoint_is_refused(corpus, tmp_path):
    path = tmp_path / "lm.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable"):
        LSTMLanguageModel(**TINY_LM, checkpoint=path).fit(corpus[:20])


# --- progress -------------------------------------------------------------------------
def test_verbose_reports_vocabulary_and_progress(corpus, capsys):
    LSTMLanguageModel(**TINY_LM, verbose=1).fit(corpus)
    out = capsys.readouterr().out
    assert "vocabulary" in out and "parameters" in out
    assert "tokens/s" in out and "perplexity" in out and "ETA" in out
    LSTMLanguageModel(**TINY_LM).fit(corpus[:20])
    assert capsys.readouterr().out == ""


# --- copies and files -----------------------------------------------------------------
def test_pickle_deepcopy_and_save_keep_the_model(fitted, corpus, tmp_path):
    path = tmp_path / "lm.sklstm"
    sklstm.save(fitted, path)
    expected = fitted.score(corpus[:20])
    for other in (
        pickle.loads(pickle.dumps(fitted)),
        copy.deepcopy(fitted),
        sklstm.load(path),
    ):
        assert other.score(corpus[:20]) == pytest.approx(expected, abs=1e-12)
        assert other.sequencer_.vocabulary_ == fitted.sequencer_.vocabulary_


def test_a_saved_model_goes_on_training_exactly(corpus, tmp_path):
    lm = LSTMLanguageModel(**TINY_LM).fit(corpus[:100])
    path = tmp_path / "lm.sklstm"
    sklstm.save(lm, path)
    loaded = sklstm.load(path)
    lm.partial_fit(corpus[100:200])
    loaded.partial_fit(corpus[100:200])
    assert _same_weights(lm, loaded)


def test_a_damaged_language_model_file_is_refused(fitted, tmp_path):
    import json
    import zipfile

    path = tmp_path / "lm.sklstm"
    sklstm.save(fitted, path)
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
        entries = {n: zf.read(n) for n in zf.namelist()}
    doc["model"]["language_net"]["module_kwargs"]["items"]["hidden_size"] = 32
    entries["model.json"] = json.dumps(doc).encode()
    bad = tmp_path / "bad.sklstm"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    with pytest.raises(sklstm.ModelFileError, match="shape"):
        sklstm.load(bad)


def test_word_vectors_start_the_embedding(corpus, tmp_path):
    path = tmp_path / "vectors.txt"
    rng = np.random.default_rng(0)
    vectors = {w: rng.normal(size=16) for w in ["film", "plot", "good", "bad"]}
    path.write_text(
        "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())
    )
    # a learning rate so small that the weights stay where they started
    lm = LSTMLanguageModel(**dict(TINY_LM, lr=1e-12), word_vectors=path).fit(corpus)
    emb = lm.module_.embedding.weight.detach().numpy()
    for w, v in vectors.items():
        np.testing.assert_allclose(emb[lm.sequencer_.vocabulary_[w]], v, atol=1e-5)
    with pytest.raises(ValueError, match="Set embedding_dim=16"):
        LSTMLanguageModel(**dict(TINY_LM, embedding_dim=8), word_vectors=path).fit(
            corpus
        )
