"""Bad input gets a clear error before any training; odd but valid input works.

Complements ``test_estimators.test_clear_errors`` (which covers a few cases on
the classifier only) with both estimators, ``fit`` and ``predict``, every input
layout, and property-based tests of the input rule and of TextSequencer.
"""

import re
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer
from sklstm._text import DEFAULT_TOKEN_PATTERN, OOV_TOKEN
from sklstm._validation import _LENGTH_BLOCK, MAX_TOKEN_ID, check_sequences

SMALL = dict(hidden_size=4, embedding_dim=4, max_epochs=1, random_state=0)
ESTIMATORS = [LSTMClassifier, LSTMRegressor]
N = 20


def _y(Est, n=N):
    y = np.arange(n) % 2
    return y if Est is LSTMClassifier else y.astype(float)


def _refused_in_fit_and_predict(Est, *, good, bad, match):
    """``bad`` input raises ValueError(match) in fit, and in predict after a
    fit on ``good``."""
    with pytest.raises(ValueError, match=match):
        Est(**SMALL).fit(bad, _y(Est))
    est = Est(**SMALL).fit(good, _y(Est))
    with pytest.raises(ValueError, match=match):
        est.predict(bad)


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


def _numeric(layout, rng, n=N):
    """Numeric input of one layout: 2-D float, 3-D float or a ragged list."""
    if layout == "2d":
        return rng.normal(size=(n, 6))
    if layout == "3d":
        return rng.normal(size=(n, 6, 2))
    if layout == "ragged":
        return [rng.normal(size=(i % 4 + 2, 2)) for i in range(n)]
    return [rng.normal(size=i % 4 + 2) for i in range(n)]  # ragged univariate


def _tokens(rng, n=N, width=7, vocab=12):
    lengths = rng.integers(1, width + 1, size=n)
    X = np.zeros((n, width), dtype=np.int64)
    for i, L in enumerate(lengths):
        X[i, :L] = rng.integers(2, vocab, size=L)
    return X


def _ragged_tokens(X):
    return [row[: int(np.flatnonzero(row)[-1]) + 1] for row in X]


def _poke(X, i, value):
    """A copy of X with one value of sequence i set to ``value``."""
    X = [x.copy() for x in X] if isinstance(X, list) else X.copy()
    X[i].flat[1] = value
    return X


# --- missing and non-finite values ---------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("layout", ["2d", "3d", "ragged", "ragged1d"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_numeric_input_names_the_sequence_and_the_fix(
    Est, layout, value, rng
):
    X = _numeric(layout, rng)
    bad = _poke(X, 3, value)
    msg = r"NaN or infinity \(in sequence 3\).*impute"
    _refused_in_fit_and_predict(Est, good=X, bad=bad, match=msg)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_float64_values_beyond_float32_range_are_rejected(Est, rng):
    X = rng.normal(size=(N, 5))
    X[2, 2] = 1e300  # finite in float64, infinite in the network's float32
    with pytest.raises(ValueError, match="float32 range.*rescale"):
        Est(**SMALL).fit(X, _y(Est))
    with pytest.raises(ValueError, match="float32 range.*rescale"):
        Est(**SMALL).fit(list(X[:, :, None]) + [np.ones((2, 1))], _y(Est, N + 1))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_missing_values_in_object_arrays_are_nan(Est, rng):
    X = rng.normal(size=(N, 4)).astype(object)
    X[5, 1] = None
    with pytest.raises(ValueError, match=r"NaN or infinity \(in sequence 5\)"):
        Est(**SMALL).fit(X, _y(Est))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("layout", ["2d", "ragged"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_targets_are_rejected(Est, layout, value, rng):
    X = _numeric(layout, rng)
    y = np.arange(N) % 2 * 1.0
    y[4] = value
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(at sample 4\)"):
        Est(**SMALL).fit(X, y)


# --- token ids -----------------------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("ragged", [False, True])
def test_negative_token_ids_are_rejected_with_a_hint(Est, ragged, rng):
    X = _tokens(rng)
    bad = X.copy()
    bad[6, 0] = -4
    if ragged:
        bad = _ragged_tokens(bad)
    msg = r"Token ids must be >= 0.*-4.*astype\(float\)"
    _refused_in_fit_and_predict(Est, good=X, bad=bad, match=msg)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("ragged", [False, True])
def test_token_ids_unseen_in_fit_read_as_out_of_vocabulary(Est, ragged, rng):
    X = _tokens(rng, vocab=12)
    est = Est(**SMALL).fit(X, _y(Est))
    unseen = X.copy()
    unseen[:, 1] = np.where(X[:, 1] > 0, [12, 500, 10**9, 2**40] * 5, 0)
    as_oov = X.copy()
    as_oov[:, 1] = np.where(X[:, 1] > 0, 1, 0)
    if ragged:
        unseen, as_oov = _ragged_tokens(unseen), _ragged_tokens(as_oov)
    np.testing.assert_array_equal(_outputs(est, unseen), _outputs(est, as_oov))
    assert not np.array_equal(_outputs(est, as_oov), _outputs(est, X))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_absurdly_large_token_ids_in_fit_are_rejected(Est, dtype, rng):
    X = _tokens(rng).astype(dtype)
    X[2, 0] = MAX_TOKEN_ID + 1 if dtype is np.int64 else 2**63
    with pytest.raises(ValueError, match="Token ids must be at most.*Renumber"):
        Est(**SMALL).fit(X, _y(Est))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_float_arrays_of_whole_numbers_are_numeric_not_tokens(Est, rng):
    X = _tokens(rng).astype(float)
    est = Est(**SMALL).fit(X, _y(Est))
    assert est.n_features_in_ == X.shape[1]  # 2-D float: fixed number of steps
    assert np.isfinite(_outputs(est, X)).all()
    with pytest.raises(ValueError, match="fitted on numeric sequences.*astype"):
        est.predict(X.astype(np.int64))


# --- text and other non-numeric input --------------------------------------------
def _text_inputs():
    pd = pytest.importorskip("pandas", reason="pandas is a test extra")
    texts = [f"text number {i}" for i in range(N)]
    return {
        "list": texts,
        "ndarray": np.array(texts),
        "object ndarray": np.array(texts, dtype=object),
        "series": pd.Series(texts),
        "dataframe": pd.DataFrame({"review": texts}),
    }


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "kind", ["list", "ndarray", "object ndarray", "series", "dataframe"]
)
def test_raw_text_points_to_text_sequencer(Est, kind, rng):
    X = _text_inputs()[kind]
    msg = r"got text \(strings\).*make_pipeline\(TextSequencer\(\)"
    with pytest.raises(TypeError, match=msg):
        Est(**SMALL).fit(X, _y(Est))
    est = Est(**SMALL).fit(_tokens(rng), _y(Est))
    with pytest.raises(TypeError, match=msg):
        est.predict(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_object_arrays_of_mixed_types(Est, rng):
    X = rng.normal(size=(N, 4))
    # numbers stored as objects are numbers
    est = Est(**SMALL).fit(X.astype(object), _y(Est))
    np.testing.assert_array_equal(_outputs(est, X.astype(object)), _outputs(est, X))
    mixed = X.astype(object)
    mixed[3, 2] = "3.5"
    with pytest.raises(TypeError, match="TextSequencer"):
        Est(**SMALL).fit(mixed, _y(Est))
    mixed[3, 2] = {"a": 1}
    with pytest.raises(TypeError, match="not numbers.*dict"):
        Est(**SMALL).fit(mixed, _y(Est))
    with pytest.raises(TypeError, match=r"Sequence 1 has dtype object"):
        Est(**SMALL).fit([np.ones(3), np.array([1.0, None]), np.ones(4)], _y(Est, 3))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("fmt", ["csr", "coo"])
def test_sparse_input_is_a_clear_type_error(Est, fmt, rng):
    X = sp.random(N, 6, density=0.5, format=fmt, random_state=0)
    with pytest.raises(TypeError, match=r"[Ss]parse.*toarray"):
        Est(**SMALL).fit(X, _y(Est))
    est = Est(**SMALL).fit(X.toarray(), _y(Est))
    with pytest.raises(TypeError, match=r"[Ss]parse.*toarray"):
        est.predict(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("layout", ["2d", "3d", "ragged"])
def test_complex_input_is_rejected(Est, layout, rng):
    X = _numeric(layout, rng)
    X = [x + 1j for x in X] if isinstance(X, list) else X + 1j
    with pytest.raises(ValueError, match=r"Complex data not supported.*X\.real"):
        Est(**SMALL).fit(X, _y(Est))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bool_arrays_read_as_zeros_and_ones(Est, rng):
    X = rng.normal(size=(N, 6)) > 0
    est = Est(**SMALL).fit(X, _y(Est))
    np.testing.assert_array_equal(_outputs(est, X), _outputs(est, X.astype(float)))
    ragged = [rng.normal(size=i % 3 + 2) > 0 for i in range(N)]
    est = Est(**SMALL).fit(ragged, _y(Est))
    np.testing.assert_array_equal(
        _outputs(est, ragged), _outputs(est, [r.astype(float) for r in ragged])
    )


# --- shapes ----------------------------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("dtype", [float, int])
def test_1d_input_says_how_to_make_one_sequence(Est, dtype, rng):
    x = np.arange(1, 9).astype(dtype)
    msg = r"got a 1-D array of shape \(8,\).*Reshape your data.*reshape\(1, -1\)"
    with pytest.raises(ValueError, match=msg):
        Est(**SMALL).fit(x, _y(Est, 8))
    est = Est(**SMALL).fit(
        _tokens(rng) if dtype is int else rng.normal(size=(N, 8)), _y(Est)
    )
    with pytest.raises(ValueError, match=msg):
        est.predict(x)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_list_mixing_sequences_and_scalars(Est):
    with pytest.raises(ValueError, match="item 1 is 5"):
        Est(**SMALL).fit([np.ones(3), 5, np.ones(2)], _y(Est, 3))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("X", [np.zeros((0, 5)), np.zeros((0, 5, 2)), []])
def test_empty_input_is_rejected(Est, X, rng):
    with pytest.raises(ValueError, match="0 sequences.*at least one"):
        Est(**SMALL).fit(X, _y(Est, 0))
    est = Est(**SMALL).fit(rng.normal(size=(N, 5, 2)), _y(Est))
    with pytest.raises(ValueError, match="0 sequences"):
        est.predict(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_more_than_3_dimensions_is_rejected(Est):
    with pytest.raises(ValueError, match=r"2-D or 3-D.*got 4 dimensions"):
        Est(**SMALL).fit(np.zeros((N, 3, 2, 2)), _y(Est))


def test_a_single_class_is_rejected_but_a_constant_target_is_fine(rng):
    X = rng.normal(size=(N, 5))
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: .*'a'"):
        LSTMClassifier(**SMALL).fit(X, ["a"] * N)
    reg = LSTMRegressor(**SMALL).fit(X, np.full(N, 3.0))
    assert np.isfinite(reg.predict(X)).all()


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("layout", ["3d", "ragged"])
def test_wrong_number_of_features_per_step_at_predict(Est, layout, rng):
    X = _numeric(layout, rng)  # 2 features per step
    est = Est(**SMALL).fit(X, _y(Est))
    other = rng.normal(size=(3, 6, 3)) if layout == "3d" else [np.ones((4, 3))] * 2
    msg = "X has 3 features per time step.*fitted with 2.*same features"
    with pytest.raises(ValueError, match=msg):
        est.predict(other)
    # the number of time steps is free for these layouts
    assert _outputs(est, rng.normal(size=(3, 11, 2))).shape[0] == 3


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_wrong_number_of_timesteps_for_2d_float_at_predict(Est, rng):
    est = Est(**SMALL).fit(rng.normal(size=(N, 6)), _y(Est))
    msg = (
        r"X has 8 features, but \w+ is expecting 6 features as input.*"
        r"3-D array X\[:, :, None\] or a list of 1-D arrays"
    )
    with pytest.raises(ValueError, match=msg):
        est.predict(rng.normal(size=(3, 8)))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("item_shape", [(0,), (0, 2)])
def test_zero_length_sequences_in_a_list(Est, item_shape, rng):
    good = [rng.normal(size=(i % 3 + 1,) + item_shape[1:]) for i in range(N)]
    bad = good[:7] + [np.zeros(item_shape)] + good[8:]
    msg = r"Sequence 7 is empty \(length 0\).*drop empty sequences"
    _refused_in_fit_and_predict(Est, good=good, bad=bad, match=msg)
    with pytest.raises(ValueError, match="0 time steps"):
        Est(**SMALL).fit(np.zeros((N, 0, 2)), _y(Est))
    with pytest.raises(ValueError, match="0 features per time step"):
        Est(**SMALL).fit(np.zeros((N, 4, 0)), _y(Est))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("layout", ["2d", "tokens", "ragged"])
def test_x_and_y_of_different_lengths(Est, layout, rng):
    X = _tokens(rng) if layout == "tokens" else _numeric(layout, rng)
    with pytest.raises(ValueError, match="X has 20 sequences but y has 19 values"):
        Est(**SMALL).fit(X, _y(Est)[:19])


# --- TextSequencer input ---------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((2, 3, 1)), ValueError, r"1-D sequence of strings.*\(2, 3, 1\)"),
        (np.array([[["a"]], [["b"]]]), ValueError, "1-D sequence of strings"),
        (["ok", "fine", None], ValueError, "Document 2 is missing"),
        (["ok", np.float32("nan")], ValueError, "Document 1 is missing.*fillna"),
        ([b"bytes"], TypeError, r"Document 0 is bytes.*decode"),
        (["ok", ["a", "b"]], ValueError, "Document 1 is a list"),
        (42, TypeError, "iterable of strings"),
    ],
)
def test_text_sequencer_bad_input_at_fit_and_transform(method, X, error, match):
    seq = TextSequencer(min_frequency=1)
    if method == "transform":
        seq.fit(["ok fine"])
    with pytest.raises(error, match=match):
        getattr(seq, method)(X)


def test_text_sequencer_pandas_missing_values_name_the_position():
    pd = pytest.importorskip("pandas", reason="pandas is a test extra")
    X = pd.Series(["good", "bad", pd.NA], dtype="string")
    with pytest.raises(ValueError, match="Document 2 is missing"):
        TextSequencer().fit(X)
    X = pd.Series(["good", None, "bad"], dtype=object)
    with pytest.raises(ValueError, match="Document 1 is missing"):
        TextSequencer().fit(X)


# --- hyperparameters and the state after a failed fit ---------------------------------
class _Untouchable:
    """Input that fails loudly if anything reads it: proves validation came first."""

    def __len__(self):
        raise AssertionError("X was read before the parameters were checked")

    __array__ = __iter__ = __getitem__ = __len__


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [
        {"hidden_size": -3},
        {"hidden_size": 2.5},
        {"num_layers": 0},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"lr": 0},
        {"lr": float("nan")},
        {"batch_size": 0},
        {"max_epochs": 0},
        {"embedding_dim": 0},
        {"cell": "transformer"},
        {"pooling": "median"},
        {"validation_fraction": 1.0},
    ],
)
def test_absurd_hyperparameters_are_rejected_before_reading_the_data(Est, params):
    name = next(iter(params))
    with pytest.raises(
        InvalidParameterError, match=f"'{name}' parameter of {Est.__name__}"
    ):
        Est(**params).fit(_Untouchable(), _Untouchable())
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("bad", ["y_nan", "x_inf", "lengths", "strings", "param"])
def test_failed_fit_leaves_a_fitted_estimator_as_it_was(Est, bad, rng):
    X = rng.normal(size=(N, 5, 2))
    y = _y(Est)
    est = Est(**SMALL).fit(X, y)
    before = _outputs(est, X)
    net, state = est.net_, dict(est.__dict__)
    Xb, yb = X, y
    if bad == "y_nan":
        yb = y.astype(float)
        yb[3] = np.nan
    elif bad == "x_inf":
        Xb = _poke(X, 2, np.inf)
    elif bad == "lengths":
        yb = y[:-1]
    elif bad == "strings":
        Xb = ["some text"] * N
    else:
        est.set_params(num_layers=0)
    with pytest.raises((ValueError, TypeError)):
        est.fit(Xb, yb)
    assert est.net_ is net
    assert est.__dict__.keys() == state.keys()
    assert all(est.__dict__[k] is v for k, v in state.items() if k != "num_layers")
    np.testing.assert_array_equal(_outputs(est, X), before)


# --- properties: TextSequencer --------------------------------------------------
_WORD_RE = re.compile(DEFAULT_TOKEN_PATTERN)
_CHAR_RE = re.compile(r"\S")

_odd_text = st.lists(
    st.one_of(
        st.characters(),  # any code point but surrogates, controls included
        st.sampled_from(
            ["😀", "👍🏽", "🇨🇳", "\u200b", "\ufeff", "\x00", "\n", "İ", "ß"]
        ),
        st.sampled_from(["a", "b", "好", " ", "!"]),  # repeats: some tokens count 2+
    ),
    max_size=40,
).map("".join)
_documents = st.one_of(
    _odd_text,
    st.just(""),
    st.builds(lambda s, k: s * k, _odd_text, st.integers(50, 400)),  # long ones
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    train=st.lists(_documents, min_size=1, max_size=6),
    test=st.lists(_documents, min_size=1, max_size=6),
    analyzer=st.sampled_from(["word", "char"]),
    min_frequency=st.sampled_from([1, 2]),
    max_len=st.none() | st.integers(1, 30),
    truncating=st.sampled_from(["post", "pre"]),
)
def test_text_sequencer_on_any_text(
    train, test, analyzer, min_frequency, max_len, truncating
):
    seq = TextSequencer(
        analyzer=analyzer,
        min_frequency=min_frequency,
        max_len=max_len,
        truncating=truncating,
    ).fit(train)
    Xt = seq.transform(test)
    assert Xt.shape == (len(test), seq.max_len_)
    assert np.issubdtype(Xt.dtype, np.integer)
    # 0 = padding, 1 = out-of-vocabulary, learned tokens are 2 .. len(vocabulary_) + 1
    assert sorted(seq.vocabulary_.values()) == list(range(2, len(seq.vocabulary_) + 2))
    assert Xt.min() >= 0 and Xt.max() < len(seq.vocabulary_) + 2
    np.testing.assert_array_equal(seq.fit_transform(train), seq.transform(train))

    split = _WORD_RE.findall if analyzer == "word" else _CHAR_RE.findall
    # the vocabulary ranks tokens by count, ties by first appearance
    counts = Counter(t for doc in train for t in split(doc.lower()))
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)  # stable
    expected = [t for t in ranked if counts[t] >= min_frequency]
    assert sorted(seq.vocabulary_, key=seq.vocabulary_.__getitem__) == expected
    for doc, row, back in zip(test, Xt, seq.inverse_transform(Xt)):
        tokens = [t if t in seq.vocabulary_ else OOV_TOKEN for t in split(doc.lower())]
        if len(tokens) > seq.max_len_:
            tokens = (
                tokens[: seq.max_len_]
                if truncating == "post"
                else tokens[-seq.max_len_ :]
            )
        # inverse_transform gives back exactly the kept tokens of the document,
        # out-of-vocabulary ones as "[UNK]", padding (only at the end) dropped
        assert back == tokens
        assert (row[len(tokens) :] == 0).all() and (row[: len(tokens)] > 0).all()


# --- properties: the input rule -----------------------------------------------------
class _Dummy(BaseEstimator):
    """Stands in for an sklstm estimator (scikit-learn's validate_data sets
    n_features_in_ on it)."""


_DTYPES = [
    np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.bool_,
]  # fmt: skip


def _arrays(max_dims=4):
    return st.sampled_from(_DTYPES).flatmap(
        lambda dt: hnp.arrays(
            dt,
            hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=5),
            elements=hnp.from_dtype(np.dtype(dt), allow_nan=True, allow_infinity=True),
        )
    )


def _ragged_lists():
    item = st.sampled_from(_DTYPES).flatmap(
        lambda dt: hnp.arrays(
            dt,
            st.one_of(
                st.tuples(st.integers(0, 5)),
                st.tuples(st.integers(0, 5), st.integers(0, 3)),
            ),
            elements=hnp.from_dtype(np.dtype(dt), allow_nan=True, allow_infinity=True),
        )
    )
    return st.lists(item, min_size=1, max_size=5)


def _check_consistent(seqs, n, X):
    assert len(seqs) == n == len(seqs.lengths)
    assert seqs.lengths.dtype == np.int64
    T = seqs.data.shape[1]
    assert ((seqs.lengths >= 1) & (seqs.lengths <= T)).all()
    if seqs.kind == "tokens":
        assert seqs.data.dtype.kind in "iu" and seqs.data.ndim == 2
        # 0 is padding, in a list as in an array: a sequence ends at its last
        # non-zero id (an all-padding sequence keeps one step)
        rows = X if isinstance(X, list) else list(X)
        last = [np.flatnonzero(r)[-1] + 1 if r.any() else 1 for r in rows]
        np.testing.assert_array_equal(seqs.lengths, last)
        assert seqs.data.min(initial=0) >= 0
    else:
        # 3-D integer arrays are numeric series (cast to float32 per batch)
        assert seqs.data.dtype.kind in "fiu" and seqs.data.ndim in (2, 3)
        assert np.isfinite(seqs.data.astype(np.float64)).all()
        if isinstance(X, list):
            assert list(seqs.lengths) == [len(x) for x in X]
        else:
            assert (seqs.lengths == T).all()


def _validate(est, X, **kw):
    """check_sequences, allowing only ValueError/TypeError as a refusal.

    Returns (sequences, input spec), or (None, None) for a refusal.
    """
    try:
        seqs, _, spec = check_sequences(est, X, **kw)
    except (ValueError, TypeError):
        return None, None
    return seqs, spec


@settings(max_examples=150, deadline=None)
@given(
    X=st.one_of(_arrays(), _ragged_lists()), X2=st.one_of(_arrays(), _ragged_lists())
)
def test_any_array_is_accepted_consistently_or_refused_cleanly(X, X2):
    est = _Dummy()
    seqs, spec = _validate(est, X, reset=True)
    if seqs is None:
        return
    _check_consistent(seqs, len(X), X)
    # once "fitted", any other input is read the same way or refused cleanly
    seqs2, _ = _validate(est, X2, reset=False, fitted=spec)
    if seqs2 is not None:
        _check_consistent(seqs2, len(X2), X2)
        assert (seqs2.kind == "tokens") == (seqs.kind == "tokens")
        if seqs.kind == "numeric":
            assert seqs2.n_features == seqs.n_features


@settings(max_examples=12, deadline=None)
@given(X=st.one_of(_arrays(max_dims=3), _ragged_lists()))
def test_estimators_fit_any_array_or_refuse_it_cleanly(X):
    y = np.arange(len(X)) % 2
    try:
        reg = LSTMRegressor(**SMALL).fit(X, y.astype(float))
    except (ValueError, TypeError):
        return
    pred = reg.predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all()
    if len(set(y)) == 2:
        clf = LSTMClassifier(**SMALL).fit(X, y)
        assert set(clf.predict(X)) <= {0, 1}


def test_lengths_of_many_rows_are_read_block_by_block(rng):
    # rows past the first block, an all-padding row and inner zeros included
    n = 2 * _LENGTH_BLOCK + 3
    X = rng.integers(0, 4, size=(n, 9)).astype(np.int32)
    X[_LENGTH_BLOCK] = 0
    X[-1, :] = 0
    X[-1, 2] = 5
    seqs, _, _ = check_sequences(LSTMClassifier(), X, reset=True)
    expected = [int(np.flatnonzero(row)[-1]) + 1 if row.any() else 1 for row in X]
    np.testing.assert_array_equal(seqs.lengths, expected)
    assert seqs.lengths.dtype == np.int64
    assert np.shares_memory(seqs.data, X)  # the token ids are not copied
