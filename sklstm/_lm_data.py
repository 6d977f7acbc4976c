"""A language model's corpus: raw texts in chunks, token ids in windows.

A corpus is read a chunk of documents at a time (:func:`text_chunks`), so it
never has to fit in memory. Each chunk's token ids become one stream, every
document followed by the end marker 0 (:func:`document_stream`), and the
stream is cut into windows of ``bptt + 1`` ids (:class:`Windows`): a window's
first ``bptt`` ids are the input, its last ``bptt`` the targets. Windows are
independent (each starts from a zero state, as a classifier reads a document),
so they can be shuffled within a chunk and shared out between processes. What
does not fill a window is carried over into the next chunk. No torch here
beyond turning a batch into tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from sklstm._ids import PAD_ID

__all__ = [
    "END_ID",
    "Windows",
    "check_corpus",
    "document_stream",
    "text_chunks",
    "window_batches",
]

#: the id that ends every document of a language model's stream
END_ID = PAD_ID


def check_corpus(X, who: str) -> Iterable:
    """``X`` if it can be read as a corpus of texts, else a clear error.

    A single string, bytes and non-iterables are refused here; each
    document's type is checked as it is read (:func:`text_chunks`).
    """
    if isinstance(X, str | bytes):
        raise TypeError(
            f"{who} expects an iterable of texts (one document per item), got a "
            "single string. Wrap one document in a list: [text]."
        )
    if not isinstance(X, Iterable):
        raise TypeError(
            f"{who} expects an iterable of texts (a list of str, an array, or an "
            f"object whose __iter__ yields str), got {type(X).__name__}."
        )
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) != 1:
        raise ValueError(
            f"{who} expects a 1-D collection of texts, got an array of shape {X.shape}."
        )
    return X


def text_chunks(X, chunk_size: int, *, skip: int = 0) -> Iterator[list]:
    """Lists of documents of ``X`` holding about ``chunk_size`` characters each.

    The first ``skip`` documents are passed over (a resumed fit). A document
    that is not a str is an error naming its position.
    """
    chunk, size = [], 0
    for i, doc in enumerate(X):
        if i < skip:
            continue
        if not isinstance(doc, str):
            if isinstance(doc, bytes | bytearray):
                raise TypeError(
                    f"Document {i} is bytes ({bytes(doc[:20])!r}), not str; decode "
                    "the corpus first, e.g. open(path, encoding='utf-8')."
                )
            raise TypeError(
                f"Document {i} is of type {type(doc).__name__}, not str. A "
                "language model reads an iterable of texts."
            )
        chunk.append(doc)
        size += len(doc)
        if size >= chunk_size:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def document_stream(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The documents' ids one after the other, each followed by :data:`END_ID`."""
    ends = np.cumsum(lengths)
    return np.insert(ids.astype(np.int64, copy=False), ends, END_ID)


class Windows:
    """Cuts a stream fed in pieces into windows of ``bptt + 1`` ids.

    Consecutive windows share one id (the last target of a window is the
    first input of the next), so every id of the stream but the first is a
    target exactly once. The stream starts with :data:`END_ID`, so that the
    first document is predicted from a document start as every other one is.
    """

    def __init__(self, bptt: int, carry=None):
        self.bptt = bptt
        self.carry = (
            np.array([END_ID], dtype=np.int64)
            if carry is None
            else np.asarray(carry, dtype=np.int64)
        )

    def feed(self, stream: np.ndarray) -> np.ndarray:
        """Windows ``(n, bptt + 1)`` that the stream so far fills."""
        s = np.concatenate([self.carry, stream])
        n = (len(s) - 1) // self.bptt
        idx = np.arange(self.bptt + 1) + self.bptt * np.arange(n)[:, None]
        self.carry = s[n * self.bptt :]
        return s[idx]

    def flush(self) -> np.ndarray:
        """The last, shorter window (at least one target), or an empty array."""
        s = self.carry
        self.carry = np.array([END_ID], dtype=np.int64)
        if len(s) < 2:
            return np.empty((0, 2), dtype=np.int64)
        return s[None, :]


def window_batches(
    windows: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None,
    *,
    num_shards: int = 1,
    shard_index: int = 0,
) -> list:
    """Batches of window rows (index arrays), shuffled when ``rng`` is given.

    With ``num_shards`` > 1 each process keeps every ``num_shards``-th batch
    of the same order (all processes draw the same order) and the batches
    that would not give every process one are left out, so that all
    processes take the same number of steps.
    """
    order = np.arange(len(windows))
    if rng is not None:
        rng.shuffle(order)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if num_shards > 1:
        usable = len(batches) - len(batches) % num_shards
        batches = batches[shard_index:usable:num_shards]
    return batches
