"""Texts read from a file one line at a time, as often as they are iterated.

A language model reads its corpus more than once (its vocabulary, then each
epoch) and never needs all of it in memory: :class:`TextLines` opens the
file again on every iteration and yields one document per line.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from itertools import islice
from pathlib import Path

__all__ = ["TextLines"]

_OPENERS = {".xz": lzma.open, ".lzma": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}


class TextLines:
    """The lines of a text file as documents, re-read on every iteration.

    Pass it where an iterable of texts is expected, e.g.
    ``LSTMLanguageModel().fit(TextLines("corpus.txt.xz"))``: each iteration
    opens the file again, so the corpus never has to fit in memory. Files
    ending in ``.xz``, ``.gz`` or ``.bz2`` are decompressed on the fly. The
    line break is removed from each line; empty lines are skipped.

    Parameters
    ----------
    path : str or path-like
        The file, UTF-8 text with one document per line.

    limit : int, default=None
        Read at most this many documents (non-empty lines).

    encoding : str, default="utf-8"
        The file's encoding.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklstm.datasets import TextLines
    >>> path = os.path.join(tempfile.mkdtemp(), "corpus.txt")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("first document\\n\\nsecond one\\nthird\\n")
    >>> list(TextLines(path))
    ['first document', 'second one', 'third']
    >>> list(TextLines(path, limit=1))
    ['first document']
    """

    def __init__(self, path, *, limit=None, encoding="utf-8"):
        path = Path(os.fspath(path))
        if not path.is_file():
            raise FileNotFoundError(f"No such text file: {path}")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(
                f"limit must be a non-negative int or None, got {limit!r}."
            )
        self.path = path
        self.limit = limit
        self.encoding = encoding

    def __iter__(self):
        opener = _OPENERS.get(self.path.suffix, open)
        with opener(self.path, "rt", encoding=self.encoding, newline="\n") as f:
            docs = (line.rstrip("\r\n") for line in f)
            yield from islice(filter(None, docs), self.limit)

    def __repr__(self):
        limit = "" if self.limit is None else f", limit={self.limit}"
        return f"TextLines({str(self.path)!r}{limit})"
