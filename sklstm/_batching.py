"""Batching: validated sequences into padded torch batches of similar length.

Training batches are length-bucketed inside shuffled pools, prediction
batches are sorted by length; each batch is padded only to its own longest
member, and the data stay in the caller's numpy array (a batch copies its own
rows). Distributed training takes every k-th batch of the same epoch.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import torch

from sklstm._ids import OOV_ID

if TYPE_CHECKING:  # pragma: no cover
    from sklstm._validation import Sequences

__all__ = [
    "BucketBatchLoader",
    "SequenceDataset",
    "bucket_batches",
    "shard_batches",
    "subset",
    "token_tensor",
]


def token_tensor(x: np.ndarray, n_tokens: int | None) -> torch.Tensor:
    """Token ids as a tensor for the embedding; ids unseen in fit read as OOV."""
    if n_tokens is not None and x.size and x.max() >= n_tokens:
        # ids unseen in fit read as out-of-vocabulary
        x = np.where(x >= n_tokens, OOV_ID, x)
    if x.dtype not in (np.int32, np.int64):
        x = x.astype(np.int64)
    # nn.Embedding reads int32 ids as they are: no int64 copy needed
    return torch.from_numpy(np.ascontiguousarray(x))


class SequenceDataset(torch.utils.data.Dataset):
    """Padded sequences, their lengths and optional targets, batched by index.

    The data stay in the caller's numpy array; each batch copies only its own
    rows, cut to the longest member of the batch. With per-sample ``weights``
    the targets of a batch arrive as ``{"y": targets, "w": weights}`` (see
    ``sklstm._net._SequenceNeuralNet.get_loss``).
    """

    def __init__(
        self,
        seqs: Sequences,
        y=None,
        *,
        n_tokens: int | None = None,
        weights: np.ndarray | None = None,
    ):
        self.data = seqs.data
        self.lengths = seqs.lengths
        self.kind = seqs.kind
        self.y = y
        self.n_tokens = n_tokens
        self.weights = None if weights is None else weights.astype(np.float32)
        self.index = None  # rows of ``data`` this dataset covers (None = all)

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, idx: np.ndarray):
        lengths = self.lengths[idx]
        T = int(lengths.max())
        rows = idx if self.index is None else self.index[idx]
        x = self.data[rows, :T]
        if self.kind == "tokens":
            xt = token_tensor(x, self.n_tokens)
        else:
            if x.ndim == 2:
                x = x[:, :, None]
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        Xb = {"x": xt, "lengths": torch.from_numpy(lengths)}
        if self.y is None:
            return Xb, torch.zeros(len(idx))
        yb = torch.from_numpy(np.ascontiguousarray(self.y[idx]))
        if self.weights is None:
            return Xb, yb
        return Xb, {"y": yb, "w": torch.from_numpy(self.weights[rows])}

    def __getitem__(self, i):  # for generic torch tooling; batches use .batch
        return self.batch(np.array([i]))


def subset(ds: SequenceDataset, idx: np.ndarray) -> SequenceDataset:
    """A view of some rows of ``ds``: no copy of the sequence data."""
    new = copy.copy(ds)
    new.index = idx if ds.index is None else ds.index[idx]
    new.lengths = ds.lengths[idx]
    new.y = None if ds.y is None else ds.y[idx]
    return new


#: Training batches are formed inside shuffled pools of this many batches.
#: 1 gives plain random batches (benchmarks/bench_convergence.py compares).
TRAIN_POOL_BATCHES = 50


def bucket_batches(
    lengths: np.ndarray,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    pool_batches: int = 50,
) -> list[np.ndarray]:
    """Index batches of sequences of similar length.

    Without ``rng`` (prediction): sort all by length, cut into batches.
    With ``rng`` (training): shuffle, then sort inside pools of
    ``pool_batches * batch_size`` sequences, cut into batches and shuffle the
    batch order, so that batches differ from epoch to epoch while each batch
    holds sequences of similar length.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    perm = rng.permutation(n)
    pool = max(batch_size * pool_batches, batch_size)
    batches = []
    for start in range(0, n, pool):
        chunk = perm[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(
            chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)
        )
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def shard_batches(batches: list, num_shards: int, shard_index: int) -> list:
    """The batches of process ``shard_index`` out of ``num_shards``.

    Process i gets batches i, i + k, i + 2k, ... of the epoch's list (k =
    ``num_shards``). Every process gets the same number of batches,
    ``ceil(len(batches) / k)``: a distributed step needs every process to
    take part, so unequal shards would hang the processes. When the count is
    not a multiple of k, the list wraps around: the last shards are filled up
    with the first batches of the list (at most k - 1 batches are seen twice
    in the epoch; like ``torch.utils.data.DistributedSampler`` without
    ``drop_last``). Wrapping rather than dropping keeps every sample in every
    epoch, and gives every process a batch even when there are fewer batches
    than processes. Every process must pass the same list (same seed).
    """
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(
            f"shard_index must be in [0, num_shards), got shard_index="
            f"{shard_index} and num_shards={num_shards}."
        )
    n = len(batches)
    if num_shards == 1 or n == 0:
        return list(batches)
    per_shard = -(-n // num_shards)
    return [
        batches[j % n] for j in range(shard_index, per_shard * num_shards, num_shards)
    ]


def _to_device(obj, device):
    """Tensors (also inside dicts, tuples and lists) moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


class BucketBatchLoader:
    """Iterator over length-bucketed batches, used as skorch's ``iterator_*``.

    Parameters
    ----------
    dataset : SequenceDataset
    batch_size : int
    shuffle : bool
        Training order (bucketed and shuffled by ``random_state``) if True,
        sorted-by-length order otherwise.
    random_state : numpy.random.Generator or None
        Generator shared across epochs, so each epoch gets new batches.
    num_shards, shard_index : int, default=1 and 0
        Distributed training: yield only this process's share of each epoch's
        batches (see :func:`shard_batches`). The bucketing is unchanged: the
        whole epoch's batches are formed first, then shared out.
    device : torch.device or None, default=None
        Move every batch there (with Accelerate, which places the model but
        does not move batches from a loader that is not a ``DataLoader``).
    """

    def __init__(
        self,
        dataset,
        batch_size=64,
        shuffle=False,
        random_state=None,
        num_shards=1,
        shard_index=0,
        device=None,
        **kwargs,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.num_shards = num_shards
        self.shard_index = shard_index
        self.device = device

    def __len__(self) -> int:
        n = -(-len(self.dataset) // self.batch_size)
        return -(-n // self.num_shards) if n else 0

    def __iter__(self):
        rng = None
        if self.shuffle:
            rng = self.random_state
            if rng is None:
                rng = np.random.default_rng()
        pool = TRAIN_POOL_BATCHES if self.shuffle else 1
        batches = bucket_batches(
            self.dataset.lengths, self.batch_size, rng=rng, pool_batches=pool
        )
        if self.num_shards > 1:
            batches = shard_batches(batches, self.num_shards, self.shard_index)
        for idx in batches:
            batch = self.dataset.batch(idx)
            if self.device is not None:
                batch = _to_device(batch, self.device)
            yield batch
