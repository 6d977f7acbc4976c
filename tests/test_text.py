"""TextSequencer: raw strings to padded token ids."""

import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sklstm import TextSequencer, _text
from sklstm._text import DEFAULT_TOKEN_PATTERN, OOV_ID, PAD_ID


def test_ids_are_reserved_and_padding_is_at_the_end():
    seq = TextSequencer(min_frequency=1)
    Xt = seq.fit_transform(["b a a", "a"])
    assert seq.vocabulary_ == {"a": 2, "b": 3}  # by frequency
    np.testing.assert_array_equal(Xt, [[3, 2, 2], [2, 0, 0]])
    assert Xt.dtype == np.int32
    assert seq.transform(["c a"]).tolist() == [[OOV_ID, 2, PAD_ID]]


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("苹果 iPhone 15 很好用", ["苹", "果", "iphone", "15", "很", "好", "用"]),
        ("这家酒店很差", list("这家酒店很差")),
        ("iPhone很好", ["iphone", "很", "好"]),
        ("これはペンです", list("これはペンです")),
        ("한국어 좋아요", list("한국어좋아요")),
        ("Привет, мир!", ["привет", ",", "мир", "!"]),
        ("$TSLA up 5%", ["$", "tsla", "up", "5", "%"]),
    ],
)
def test_default_word_mode_splits_unsegmented_scripts_per_character(text, tokens):
    seq = TextSequencer(min_frequency=1).fit([text])
    assert seq.inverse_transform(seq.transform([text])) == [tokens]


def test_char_mode_and_callable_tokenizer():
    seq = TextSequencer(analyzer="char", min_frequency=1).fit(["ab c"])
    assert seq.inverse_transform(seq.transform(["ab c"])) == [["a", "b", "c"]]
    seq = TextSequencer(tokenizer=lambda s: s.split("|"), min_frequency=1)
    seq.fit(["Foo|bar baz"])
    assert sorted(seq.vocabulary_) == ["bar baz", "foo"]


def test_lowercase_switch():
    assert (
        "Good"
        in TextSequencer(lowercase=False, min_frequency=1).fit(["Good"]).vocabulary_
    )
    assert "good" in TextSequencer(min_frequency=1).fit(["Good"]).vocabulary_


def test_custom_token_pattern_and_ignored_pattern_warning():
    seq = TextSequencer(token_pattern=r"\b\w\w+\b", min_frequency=1).fit(["a bb ccc"])
    assert set(seq.vocabulary_) == {"bb", "ccc"}
    seq = TextSequencer(token_pattern=r"#(\w+)", min_frequency=1).fit(
        ["#tag and #other"]
    )
    assert set(seq.vocabulary_) == {"tag", "other"}
    with pytest.warns(UserWarning, match="token_pattern"):
        TextSequencer(analyzer="char", token_pattern=r"\w+").fit(["abc"])
    with pytest.raises(ValueError, match="capturing group"):
        TextSequencer(token_pattern=r"(a)(b)").fit(["ab"])


def test_max_features_and_min_frequency():
    docs = ["a a a b b c"]
    assert TextSequencer(max_features=2, min_frequency=1).fit(docs).vocabulary_ == {
        "a": 2,
        "b": 3,
    }
    assert set(TextSequencer(min_frequency=2).fit(docs).vocabulary_) == {"a", "b"}
    # float: a fraction of all tokens (6 here): 0.4 * 6 = 2.4 -> only "a"
    assert set(TextSequencer(min_frequency=0.4).fit(docs).vocabulary_) == {"a"}
    # the default keeps words seen once out of the vocabulary
    assert TextSequencer().fit(docs).transform(["c"]).tolist()[0][0] == OOV_ID


def test_fixed_vocabulary_list_and_mapping():
    seq = TextSequencer(vocabulary=["x", "y"]).fit(["y z"])
    assert seq.vocabulary_ == {"x": 2, "y": 3}
    assert seq.transform(["y z x"]).tolist() == [[3, 1]]  # width 2 from fit
    seq = TextSequencer(vocabulary={"x": 5, "y": 2}).fit(["x"])
    assert seq.get_vocabulary() == ["", "[UNK]", "y", "", "", "x"]
    user = {"x": 5}
    fitted = TextSequencer(vocabulary=user).fit(["x"])
    assert fitted.vocabulary_ is not user


@pytest.mark.parametrize(
    "vocabulary, match",
    [(["a", "a"], "duplicate"), ({"a": 1}, ">= 2"), ({"a": 2, "b": 2}, "unique")],
)
def test_bad_fixed_vocabulary(vocabulary, match):
    with pytest.raises(ValueError, match=match):
        TextSequencer(vocabulary=vocabulary).fit(["a"])


def test_max_len_default_explicit_and_truncating():
    docs = ["a b c d", "a"]
    seq = TextSequencer(min_frequency=1).fit(docs)
    assert seq.max_len_ == 4
    assert seq.transform(["a b c d e f"]).shape == (1, 4)
    post = TextSequencer(max_len=2, min_frequency=1).fit(docs)
    pre = TextSequencer(max_len=2, truncating="pre", min_frequency=1).fit(docs)
    assert post.inverse_transform(post.transform(["a b c d"])) == [["a", "b"]]
    assert pre.inverse_transform(pre.transform(["a b c d"])) == [["c", "d"]]
    assert pre.transform(["a"]).tolist() == [[2, 0]]


def test_fit_transform_equals_fit_then_transform():
    docs = ["the cat sat", "the dog", "猫 在 睡觉", ""]
    a = TextSequencer(min_frequency=1).fit_transform(docs)
    b = TextSequencer(min_frequency=1).fit(docs).transform(docs)
    np.testing.assert_array_equal(a, b)


def test_documents_holding_every_separator_character_tokenize_alike():
    from sklstm._text import _SEPARATORS

    docs = ["a b", "c" + "".join(_SEPARATORS) + "d", "a"]
    seq = TextSequencer(min_frequency=1).fit(docs)
    tokens = seq.inverse_transform(seq.transform(docs))
    assert tokens[0] == ["a", "b"] and tokens[2] == ["a"]
    assert tokens[1][0] == "c" and tokens[1][-1] == "d"
    assert len(tokens[1]) == 2 + len(_SEPARATORS)


def test_empty_strings_are_all_padding():
    seq = TextSequencer(min_frequency=1).fit(["a b", ""])
    assert seq.transform(["", "   "]).tolist() == [[0, 0], [0, 0]]
    assert TextSequencer().fit([""]).max_len_ == 1


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("just one string", ValueError, "string object received"),
        (["ok", None], ValueError, "Document 1 is missing"),
        (["ok", "fine", float("nan")], ValueError, "Document 2 is missing"),
        (["ok", 3], TypeError, "Document 1 is of type int"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "1-D"),
        (np.empty((2, 1, 1), dtype=object), ValueError, "1-D"),
        ([], ValueError, "at least one document"),
    ],
)
def test_bad_input_errors_name_the_problem(X, error, match):
    with pytest.raises(error, match=match):
        TextSequencer().fit(X)


@pytest.mark.parametrize(
    "params", [{"max_len": 0}, {"truncating": "middle"}, {"analyzer": "sentence"}]
)
def test_bad_parameters_are_rejected_in_fit(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        TextSequencer(**params).fit(["a"])


def test_pandas_series_and_single_column_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas is a test extra")
    docs = ["a b", "b c"]
    expected = TextSequencer(min_frequency=1).fit_transform(docs)
    np.testing.assert_array_equal(
        TextSequencer(min_frequency=1).fit_transform(pd.Series(docs)), expected
    )
    np.testing.assert_array_equal(
        TextSequencer(min_frequency=1).fit_transform(pd.DataFrame({"t": docs})),
        expected,
    )
    with pytest.raises(ValueError, match="one column"):
        TextSequencer().fit(pd.DataFrame({"a": docs, "b": docs}))
    out = (
        TextSequencer(min_frequency=1)
        .set_output(transform="pandas")
        .fit_transform(docs)
    )
    assert list(out.columns) == ["textsequencer0", "textsequencer1"]


def test_clone_pickle_and_set_params():
    docs = ["a b c", "c d"]
    seq = TextSequencer(min_frequency=1).fit(docs)
    again = pickle.loads(pickle.dumps(seq))
    np.testing.assert_array_equal(again.transform(docs), seq.transform(docs))
    c = clone(seq).set_params(max_len=7)
    assert c.fit(docs).transform(docs).shape == (2, 7)


def test_inverse_transform_rejects_ids_outside_the_vocabulary():
    seq = TextSequencer(min_frequency=1).fit(["a"])
    with pytest.raises(ValueError, match="Ids must be in"):
        seq.inverse_transform([[5]])


_DEFAULT_RE = re.compile(DEFAULT_TOKEN_PATTERN)


@settings(max_examples=50, deadline=None)
@given(
    train=st.lists(st.text(max_size=60), min_size=1, max_size=8),
    test=st.lists(st.text(max_size=300), max_size=8),
    max_len=st.none() | st.integers(1, 20),
)
def test_any_unicode_text_gives_valid_ids_and_round_trips(train, test, max_len):
    seq = TextSequencer(max_len=max_len, min_frequency=1).fit(train)
    Xt = seq.transform(test)
    assert Xt.shape == (len(test), seq.max_len_)
    assert Xt.min(initial=0) >= 0 and Xt.max(initial=0) < len(seq.get_vocabulary())
    back = seq.inverse_transform(Xt) if test else []
    for doc, tokens in zip(test, back):
        expected = [
            t if t in seq.vocabulary_ else "[UNK]"
            for t in _DEFAULT_RE.findall(doc.lower())
        ][: seq.max_len_]
        assert tokens == expected


def test_corpus_split_in_blocks_gives_the_same_ids(monkeypatch):
    # the whitespace split runs block by block of documents; the ids (and the
    # vocabulary's order of first appearance) are those of one pass
    docs = [
        "The cat sat.",
        "",
        "猫が座った the Cat",
        "  spaces   everywhere  ",
        "émoji 🙂 and cat!",
    ] * 3
    whole = TextSequencer().fit(docs)
    expected = whole.transform(docs)
    monkeypatch.setattr(_text, "_SPLIT_BLOCK", 2)
    blocks = TextSequencer().fit(docs)
    np.testing.assert_array_equal(blocks.transform(docs), expected)
    assert blocks.vocabulary_ == whole.vocabulary_
