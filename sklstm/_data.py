"""Old home of the batch loader: keeps pickles of sklstm 0.1.0.dev0 loadable.

A fitted net pickled by that version names ``sklstm._data.BucketBatchLoader``;
it lives in :mod:`sklstm._batching` now. Nothing else imports this module.
"""

from sklstm._batching import BucketBatchLoader

__all__ = ["BucketBatchLoader"]
