"""TextSequencer: raw strings in, padded integer token-id sequences out."""

from __future__ import annotations

import operator
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain, count, repeat
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted

from sklstm._compat import DocLinkMixin, Interval, StrOptions, _fit_context
from sklstm._dataframes import column_values, single_column
from sklstm._ids import FIRST_TOKEN_ID, OOV_ID, OOV_TOKEN, PAD_ID, PAD_TOKEN
from sklstm._persistence import _VersionedPickleMixin

__all__ = ["TextSequencer", "DEFAULT_TOKEN_PATTERN", "PAD_ID", "OOV_ID"]


# Scripts written without spaces between words: each character is a token.
# CJK ideographs (unified, extension A, compatibility, supplementary planes),
# kana (hiragana, katakana, phonetic extensions, halfwidth katakana) and hangul
# (syllables, jamo, compatibility jamo).
_UNSEGMENTED = (
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # ideographs
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"  # hangul
)

#: The default word pattern: one token per CJK ideograph, kana or hangul
#: character; runs of other word characters (Latin, Cyrillic, digits, ...)
#: stay whole words; every other non-space character (punctuation, symbols,
#: emoji) is a token of its own.
DEFAULT_TOKEN_PATTERN = rf"[{_UNSEGMENTED}]|[^\W{_UNSEGMENTED}]+|[^\w\s]"

_WORD_RE = re.compile(DEFAULT_TOKEN_PATTERN)
_CHAR_RE = re.compile(r"\S")
# characters that join documents for a single tokenizing pass (the first one
# that occurs in no document is used)
_SEPARATORS = ("\x00", "\ue000", "\ue001", "\U000f0000", "\x01")
#: documents split on whitespace at a time (bounds the transient Python strings)
_SPLIT_BLOCK = 8192


class _Tokens(NamedTuple):
    """The tokens of documents (``TextSequencer._tokenize``): ``types``, the
    distinct tokens by first appearance; ``codes``, each token's index in
    ``types``, in order; ``lengths``, each document's number of tokens."""

    types: list
    codes: np.ndarray
    lengths: np.ndarray


def _encode(items: list):
    """Distinct items in order of first appearance, and each item's index there.

    One ``dict.setdefault`` pass records every item's first position; the
    rest is numpy.
    """
    return _encode_blocks((items,))


def _encode_blocks(blocks):
    """:func:`_encode` of the lists in ``blocks`` one after the other.

    Each list can be dropped once it is encoded, so the items of a large
    corpus never exist all at once.
    """
    first: dict = {}
    positions = []
    n = 0
    for items in blocks:
        positions.append(
            np.fromiter(map(first.setdefault, items, count(n)), np.int64, len(items))
        )
        n += len(items)
    pos = np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)
    del positions
    index_of_first = np.empty(n, dtype=np.int64)
    index_of_first[np.fromiter(first.values(), np.int64, len(first))] = np.arange(
        len(first)
    )
    return list(first), index_of_first[pos]


def _is_missing(value) -> bool:
    """None, NaN (float or numpy) and pandas' NA / NaT."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float | np.floating) and value != value


def _check_texts(X, *, fitting: bool) -> list:
    """Return the documents as a list of str, or raise a clear error."""
    if isinstance(X, str | bytes):
        raise ValueError(
            "Iterable over raw text documents expected, string object received. "
            "Wrap a single document in a list: transform([text])."
        )
    # a dataframe of one column, or a series, of any library (narwhals)
    X = column_values(single_column(X, who="TextSequencer"))
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                f"TextSequencer expects a 1-D sequence of strings, got an array of "
                f"shape {X.shape}. Pass a list, a 1-D array or a pandas Series of "
                "texts (or a single column)."
            )
        docs = X.tolist()
    elif isinstance(X, Iterable):
        docs = list(X)
    else:
        raise TypeError(
            f"TextSequencer expects an iterable of strings, got {type(X).__name__}."
        )
    if fitting and not docs:
        raise ValueError(
            "TextSequencer needs at least one document to fit, got 0 documents."
        )
    if not all(map(str.__instancecheck__, docs)):
        for i, doc in enumerate(docs):
            if isinstance(doc, str):
                continue
            if _is_missing(doc):
                raise ValueError(
                    f"Document {i} is missing ({doc!r}). TextSequencer needs a "
                    "string for every document; fill missing texts first, e.g. "
                    "X.fillna('') with pandas (an empty string is valid)."
                )
            if isinstance(doc, np.ndarray | list | tuple):
                raise ValueError(
                    f"Document {i} is a {type(doc).__name__}, not a string: "
                    "TextSequencer expects a 1-D sequence of strings, not nested "
                    "sequences."
                )
            if isinstance(doc, bytes | bytearray):
                raise TypeError(
                    f"Document {i} is bytes ({doc[:20]!r}), not str. TextSequencer "
                    "expects text; decode it first, e.g. doc.decode('utf-8')."
                )
            raise TypeError(
                f"Document {i} is of type {type(doc).__name__} ({doc!r}), not str. "
                "TextSequencer expects text; convert it first, e.g. with str()."
            )
    return docs


class TextSequencer(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    DocLinkMixin,
    _VersionedPickleMixin,
    BaseEstimator,
):
    """Turn raw texts into padded sequences of integer token ids.

    ``fit`` learns a vocabulary; ``transform`` maps each document to the ids of
    its tokens, padded with 0 at the end to a common width ``max_len_``. Id 0
    is padding and id 1 stands for tokens outside the vocabulary; real tokens
    get ids 2, 3, ... by decreasing frequency. The output is what
    :class:`~sklstm.LSTMClassifier` and :class:`~sklstm.LSTMRegressor` read, so
    ``make_pipeline(TextSequencer(), LSTMClassifier())`` takes raw strings.

    Unsegmented scripts are first-class: in the default word mode every CJK
    ideograph, kana and hangul character is a token of its own, while Latin
    (and other space-separated) words stay whole, so mixed text such as
    ``"苹果 iPhone 15 很好用"`` gives ``["苹", "果", "iphone", "15", "很",
    "好", "用"]``. For word segmentation of Chinese, pass a segmenter as
    ``tokenizer`` (for example ``jieba.lcut``).

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    analyzer : {"word", "char"}, default="word"
        ``"word"``: tokens from ``token_pattern`` (the default pattern is
        described above). ``"char"``: every non-space character is a token.

    tokenizer : callable, default=None
        A function ``str -> list of str`` used instead of the regular
        expression (after lowercasing when ``lowercase=True``).

    token_pattern : str, default=None
        Regular expression for tokens in word mode, applied with
        ``re.findall``; if it has one capturing group, the group is the token.
        None uses :data:`DEFAULT_TOKEN_PATTERN`: one token per CJK ideograph,
        kana or hangul character, whole words for other word characters, and
        one token per punctuation or symbol character.

    lowercase : bool, default=True
        Lowercase texts before tokenizing.

    max_features : int, default=None
        Keep only the ``max_features`` most frequent tokens; the others read as
        out-of-vocabulary (id 1).

    min_frequency : int or float, default=2
        Tokens seen fewer times than this in ``fit`` read as
        out-of-vocabulary. A float in (0, 1) is a fraction of all tokens. The
        default of 2 keeps words seen only once out of the vocabulary, so the
        network learns what an unknown word means instead of memorising
        single occurrences (this measurably helps on small corpora).

    vocabulary : iterable of str or mapping of str to int, default=None
        A fixed vocabulary instead of one learned from the data: a sequence of
        unique tokens (ids 2, 3, ... in that order) or a mapping from token to
        a unique id >= 2.

    max_len : int, default=None
        Width of the output. None: the length of the longest training document
        (at least 1). Longer documents are truncated as ``truncating`` says.
        The LSTM estimators use each document's own length, so a larger width
        only costs memory.

    truncating : {"post", "pre"}, default="post"
        Which tokens a document longer than ``max_len_`` loses: ``"post"``
        keeps the beginning, ``"pre"`` keeps the end.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        The token ids (>= 2) learned in ``fit`` or copied from ``vocabulary``.

    max_len_ : int
        Width of the output of ``transform``.

    See Also
    --------
    LSTMClassifier : Classifies the sequences this transformer produces.
    sklearn.feature_extraction.text.CountVectorizer : Bag-of-words counts.

    Examples
    --------
    >>> from sklstm import TextSequencer
    >>> seq = TextSequencer(min_frequency=1).fit(["good phone", "很好用 phone"])
    >>> seq.transform(["good phone!", "很好"])
    array([[3, 2, 1, 0],
           [4, 5, 0, 0]], dtype=int32)
    >>> seq.inverse_transform(seq.transform(["good phone!"]))
    [['good', 'phone', '[UNK]']]
    """

    _parameter_constraints: dict = {
        "analyzer": [StrOptions({"word", "char"})],
        "tokenizer": [callable, None],
        "token_pattern": [str, None],
        "lowercase": ["boolean"],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "vocabulary": [Mapping, "array-like", None],
        "max_len": [Interval(Integral, 1, None, closed="left"), None],
        "truncating": [StrOptions({"post", "pre"})],
    }

    def __init__(
        self,
        *,
        analyzer="word",
        tokenizer=None,
        token_pattern=None,
        lowercase=True,
        max_features=None,
        min_frequency=2,
        vocabulary=None,
        max_len=None,
        truncating="post",
    ):
        self.analyzer = analyzer
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.lowercase = lowercase
        self.max_features = max_features
        self.min_frequency = min_frequency
        self.vocabulary = vocabulary
        self.max_len = max_len
        self.truncating = truncating

    # --- tokenizing ----------------------------------------------------------
    def _split_function(self):
        if self.token_pattern is not None and (
            self.tokenizer is not None or self.analyzer == "char"
        ):
            ignored_by = (
                "tokenizer" if self.tokenizer is not None else "analyzer='char'"
            )
            warnings.warn(
                f"The parameter 'token_pattern' will not be used since {ignored_by} "
                "is set.",
                UserWarning,
                stacklevel=3,
            )
        if self.tokenizer is not None:
            return self.tokenizer
        if self.analyzer == "char":
            return _CHAR_RE.findall
        if self.token_pattern is None:
            return _WORD_RE.findall
        pattern = re.compile(self.token_pattern)
        if pattern.groups > 1:
            raise ValueError(
                "token_pattern may have at most one capturing group (the token); "
                f"{self.token_pattern!r} has {pattern.groups}. Use (?:...) for "
                "non-capturing groups."
            )
        return pattern.findall

    def _tokenize(self, docs: list) -> _Tokens:
        """Tokens of all documents (see :class:`_Tokens`)."""
        split = self._split_function()
        builtin = self.tokenizer is None and (
            self.analyzer == "char" or self.token_pattern is None
        )
        # Documents are joined with a character that appears in none of them,
        # so that one pass handles the whole corpus (one call per document
        # otherwise).
        sep = None
        if builtin and docs:
            sep = next(
                (
                    c
                    for c in _SEPARATORS
                    if not any(map(operator.contains, docs, repeat(c)))
                ),
                None,
            )
        if sep is None:
            if self.lowercase:
                docs = map(str.lower, docs)
            per_doc = list(map(split, docs))
            lengths = np.fromiter(map(len, per_doc), np.int64, len(per_doc))
            return _Tokens(*_encode(list(chain.from_iterable(per_doc))), lengths)
        # The built-in patterns never match across whitespace, so a text's
        # tokens are those of its whitespace-separated chunks, in order. Text
        # repeats the same chunks over and over: split on whitespace (fast, in
        # C), run the regular expression once per *distinct* chunk, and expand
        # the result with numpy.
        # in blocks of documents: the chunks of the whole corpus are never all
        # Python strings at once (the same stream as one split of it all)
        chunks, chunk_codes = _encode_blocks(
            (f" {sep} ".join(docs[i : i + _SPLIT_BLOCK]) + f" {sep}").split()
            for i in range(0, len(docs), _SPLIT_BLOCK)
        )
        sep_code = chunks.index(sep)
        if self.lowercase:
            chunks = map(str.lower, chunks)
        per_chunk = list(map(split, chunks))
        per_chunk[sep_code] = []
        n_tokens = np.fromiter(map(len, per_chunk), np.int64, len(per_chunk))
        types, chunk_tokens = _encode(list(chain.from_iterable(per_chunk)))
        # tokens of the stream of chunks: chunk c's tokens are
        # chunk_tokens[offsets[c]: offsets[c] + n_tokens[c]]
        offsets = np.cumsum(n_tokens) - n_tokens
        stream_n = n_tokens[chunk_codes]
        ends = np.cumsum(stream_n)
        total = int(ends[-1])
        codes = chunk_tokens[
            np.repeat(offsets[chunk_codes] - (ends - stream_n), stream_n)
            + np.arange(total)
        ]
        lengths = np.diff(ends[chunk_codes == sep_code], prepend=0)
        return _Tokens(types, codes, lengths)

    # --- fitting ---------------------------------------------------------------
    def _learn(self, tokens: _Tokens):
        """Learn the vocabulary; return it and the token ids."""
        counts = np.bincount(tokens.codes, minlength=len(tokens.types))
        vocabulary, id_of_type = self._select(tokens.types, counts)
        return vocabulary, id_of_type[tokens.codes]

    def _select(self, types: list, counts: np.ndarray):
        """The vocabulary from each type's count, and each type's id (OOV: 1).

        By decreasing count, ties by first appearance (the order of ``types``).
        """
        distinct = np.flatnonzero(counts)
        freq = counts[distinct]
        order = np.argsort(-freq, kind="stable")
        distinct, freq = distinct[order], freq[order]
        min_count = self.min_frequency
        if isinstance(min_count, Real) and not isinstance(min_count, Integral):
            min_count = min_count * int(counts.sum())
        selected = distinct[freq >= min_count][: self.max_features]
        n_ids = len(selected) + FIRST_TOKEN_ID
        dtype = np.int32 if n_ids <= np.iinfo(np.int32).max else np.int64
        id_of_type = np.full(len(types), OOV_ID, dtype=dtype)
        id_of_type[selected] = np.arange(FIRST_TOKEN_ID, n_ids, dtype=dtype)
        vocabulary = {
            types[i]: int(i_id) for i, i_id in zip(selected, id_of_type[selected])
        }
        return vocabulary, id_of_type

    def _fit(self, docs: list):
        """Fit on documents; return their token ids and lengths."""
        tokens = self._tokenize(docs)
        if self.vocabulary is not None:
            self.vocabulary_ = _check_vocabulary(self.vocabulary)
            ids = self._ids(tokens)
        else:
            self.vocabulary_, ids = self._learn(tokens)
        lengths = tokens.lengths
        longest = int(lengths.max()) if len(lengths) else 0
        self.max_len_ = (
            int(self.max_len) if self.max_len is not None else max(longest, 1)
        )
        return ids, lengths

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary (and the output width) from texts.

        Parameters
        ----------
        X : iterable of str
            Raw texts: a list, 1-D array or pandas Series (a DataFrame or 2-D
            array with a single column is accepted too).

        y : None
            Ignored.

        Returns
        -------
        self : TextSequencer
            The fitted transformer.
        """
        self._fit(_check_texts(X, fitting=True))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Learn the vocabulary and return the padded id sequences.

        Tokenizes the texts only once.

        Parameters
        ----------
        X : iterable of str
            Raw texts.

        y : None
            Ignored.

        Returns
        -------
        Xt : ndarray of shape (n_samples, width)
            Token ids, 0 = padding at the end, 1 = out-of-vocabulary; the
            width is the fitted ``max_len_``.
        """
        return self._pad(*self._fit(_check_texts(X, fitting=True)))

    def transform(self, X):
        """Map texts to padded sequences of token ids.

        Parameters
        ----------
        X : iterable of str
            Raw texts.

        Returns
        -------
        Xt : ndarray of shape (n_samples, width)
            Token ids, 0 = padding at the end, 1 = out-of-vocabulary; the
            width is the fitted ``max_len_``.
        """
        check_is_fitted(self)
        tokens = self._tokenize(_check_texts(X, fitting=False))
        return self._pad(self._ids(tokens), tokens.lengths)

    # --- streaming: a language model's corpus, a block of documents at a time ---
    def _count_tokens(self, docs: list, counts: dict) -> None:
        """Add the token counts of ``docs`` to ``counts`` (first appearance order)."""
        tokens = self._tokenize(docs)
        n = np.bincount(tokens.codes, minlength=len(tokens.types)).tolist()
        counts.update({tok: counts.get(tok, 0) + c for tok, c in zip(tokens.types, n)})

    def _fit_counts(self, counts: dict):
        """Learn from counts gathered block by block what ``fit`` learns from
        the whole corpus (``max_len_``: ``max_len`` or 1)."""
        n = np.fromiter(counts.values(), np.int64, len(counts))
        self.vocabulary_ = (
            _check_vocabulary(self.vocabulary)
            if self.vocabulary is not None
            else self._select(list(counts), n)[0]
        )
        self.max_len_ = int(self.max_len) if self.max_len is not None else 1
        return self

    def _flat_ids(self, docs: list):
        """``(ids, lengths)``: the documents' ids one after the other, unpadded."""
        tokens = self._tokenize(docs)
        return self._ids(tokens), tokens.lengths

    def _ids(self, tokens: _Tokens) -> np.ndarray:
        """Vocabulary ids of the tokens (out-of-vocabulary: 1)."""
        n_ids = max(self.vocabulary_.values(), default=OOV_ID) + 1
        dtype = np.int32 if n_ids <= np.iinfo(np.int32).max else np.int64
        id_of_type = np.fromiter(
            map(self.vocabulary_.get, tokens.types, repeat(OOV_ID)),
            dtype=dtype,
            count=len(tokens.types),
        )
        return id_of_type[tokens.codes]

    def _pad(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Padded id matrix from all documents' ids, without a Python loop."""
        n, width = len(lengths), self.max_len_
        out = np.zeros((n, width), dtype=ids.dtype)
        if not len(ids):
            return out
        if lengths.max() > width:
            starts = np.cumsum(lengths) - lengths
            pos = np.arange(len(ids)) - np.repeat(starts, lengths)
            if self.truncating == "pre":  # keep each document's last tokens
                keep = pos >= np.repeat(lengths - width, lengths)
            else:
                keep = pos < width
            ids, lengths = ids[keep], np.minimum(lengths, width)
        # row-major boolean mask of the real tokens: one sequential pass
        out[np.arange(width) < lengths[:, None]] = ids
        return out

    # --- the way back ----------------------------------------------------------
    def get_vocabulary(self) -> list:
        """Tokens indexed by id: ``["", "[UNK]", token_2, token_3, ...]``.

        Ids missing from a user mapping read as ``""``. Handy to align a
        pretrained embedding matrix with the ids.

        Returns
        -------
        vocabulary : list of str
        """
        check_is_fitted(self)
        n_ids = max(self.vocabulary_.values(), default=OOV_ID) + 1
        vocab = [PAD_TOKEN] * n_ids
        vocab[OOV_ID] = OOV_TOKEN
        for tok, i in self.vocabulary_.items():
            vocab[i] = tok
        return vocab

    def inverse_transform(self, X):
        """Token lists from id sequences (padding dropped, OOV as ``"[UNK]"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_positions)
            Token ids, e.g. the output of ``transform``.

        Returns
        -------
        tokens : list of list of str
        """
        check_is_fitted(self)
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype.kind not in "iu":
            raise ValueError(
                f"inverse_transform expects a 2-D array of integer ids, got shape "
                f"{X.shape} and dtype {X.dtype}."
            )
        vocab = np.array(self.get_vocabulary(), dtype=object)
        if X.size and (X.min() < 0 or X.max() >= len(vocab)):
            raise ValueError(
                f"Ids must be in [0, {len(vocab)}) for this vocabulary; got values "
                f"from {X.min()} to {X.max()}."
            )
        words = vocab[X]
        return [row[ids != PAD_ID].tolist() for row, ids in zip(words, X)]

    @property
    def _n_features_out(self):
        return self.max_len_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags


def _check_vocabulary(vocabulary) -> dict:
    """Validate a user vocabulary and return a fresh token -> id dict."""
    if isinstance(vocabulary, Mapping):
        vocab = dict(vocabulary)
        ids = list(vocab.values())
        if not all(isinstance(i, Integral) and not isinstance(i, bool) for i in ids):
            raise ValueError("vocabulary ids must be integers.")
        if ids and min(ids) <= OOV_ID:
            raise ValueError(
                f"vocabulary ids must be >= 2: 0 is padding and 1 is "
                f"out-of-vocabulary; got {min(ids)}."
            )
        if len(set(ids)) != len(ids):
            raise ValueError("vocabulary ids must be unique; some tokens share an id.")
        return {str(tok): int(i) for tok, i in vocab.items()}
    tokens = list(vocabulary)
    if len(set(tokens)) != len(tokens):
        dup = next(t for t, c in Counter(tokens).items() if c > 1)
        raise ValueError(
            f"vocabulary has duplicate token {dup!r}; tokens must be unique."
        )
    return {tok: i for i, tok in enumerate(tokens, start=FIRST_TOKEN_ID)}
