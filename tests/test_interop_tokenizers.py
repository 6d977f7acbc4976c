"""Subword tokenizers (sentencepiece, Hugging Face tokenizers) as ``tokenizer=``."""

import io
import pickle

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from tiny import EXACT

import sklstm
from sklstm import LSTMClassifier, TextSequencer

TEXTS = [
    "the cat sat on the mat",
    "a dog ate the bone",
    "Hello world of cats and dogs",
    "the dogs chased the cats",
] * 10
LABELS = [1, 0, 1, 0] * 10


@pytest.fixture(scope="module")
def sentencepiece():
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece not installed")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXTS),
        model_writer=model,
        vocab_size=40,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


@pytest.fixture(scope="module")
def hf_tokenizer():
    tk = pytest.importorskip("tokenizers", reason="tokenizers is not installed")
    tok = tk.Tokenizer(tk.models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = tk.pre_tokenizers.Whitespace()
    trainer = tk.trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"])
    tok.train_from_iterator(TEXTS, trainer)
    return tok


class HFTokens:
    """The recipe of the docs: a named class pickles, a lambda does not."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text):
        return self.tokenizer.encode(text).tokens


def test_sentencepiece_pieces_are_the_tokens(sentencepiece):
    seq = TextSequencer(tokenizer=sentencepiece.encode_as_pieces, lowercase=False)
    seq.fit(TEXTS)
    assert set(seq.vocabulary_) <= set(sentencepiece.encode_as_pieces(" ".join(TEXTS)))
    pipe = make_pipeline(seq, LSTMClassifier(**EXACT)).fit(TEXTS, LABELS)
    again = pickle.loads(pickle.dumps(pipe))  # the bound method pickles
    np.testing.assert_allclose(again.predict_proba(TEXTS), pipe.predict_proba(TEXTS))


def test_lowercase_runs_before_the_subword_model(sentencepiece):
    """lowercase=True (the default) hands lowercased text to the tokenizer."""
    seen = []

    def spy(text):
        seen.append(text)
        return sentencepiece.encode_as_pieces(text)

    TextSequencer(tokenizer=spy, min_frequency=1).fit(["Hello World"])
    assert seen == ["hello world"]
    cased = TextSequencer(tokenizer=spy, lowercase=False, min_frequency=1)
    cased.fit(["Hello"])
    assert seen[-1] == "Hello"
    assert any(ch.isupper() for token in cased.vocabulary_ for ch in token)


def test_hf_tokenizer_through_a_named_class(hf_tokenizer):
    seq = TextSequencer(tokenizer=HFTokens(hf_tokenizer), lowercase=False)
    ids = seq.fit_transform(TEXTS)
    assert ids.shape[0] == len(TEXTS)
    again = pickle.loads(pickle.dumps(seq))
    np.testing.assert_array_equal(again.transform(TEXTS), ids)
    lam = TextSequencer(tokenizer=lambda t: hf_tokenizer.encode(t).tokens)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(lam)


def test_safe_format_refuses_a_tokenizer_and_says_what_to_do(sentencepiece, tmp_path):
    seq = TextSequencer(tokenizer=sentencepiece.encode_as_pieces).fit(TEXTS)
    with pytest.raises(TypeError, match="tokenizer.*joblib"):
        sklstm.save(seq, tmp_path / "m.sklstm")
    assert not (tmp_path / "m.sklstm").exists()
