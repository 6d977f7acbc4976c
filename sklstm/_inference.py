"""Running a fitted network on validated sequences (predict's hot path).

Rows are sorted by length into batches of ``batch_size`` rows (the
estimators' ``predict_batch_size``; little padding), outputs come back as
float64 in the caller's order. Each batch's outputs are copied to host memory
as soon as they are computed, so the device holds one batch at a time: GPU
memory does not grow with the number of rows. A few token sequences take a
latency path: one unsorted batch, no row copies.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from sklstm._batching import SequenceDataset, bucket_batches, token_tensor
from sklstm._module import parameter_device
from sklstm._precision import autocast
from sklstm._runtime import flush_denormal, thread_limit

__all__ = ["PREDICT_BATCH_SIZE", "SMALL_PREDICT", "network_outputs"]

#: rows per prediction batch by default (sorted by length, so little padding)
PREDICT_BATCH_SIZE = 1024

#: up to this many token sequences predict as one unsorted batch (latency path)
SMALL_PREDICT = 8


def network_outputs(
    module,
    seqs,
    *,
    n_tokens,
    n_outputs,
    precision="32",
    batch_size=PREDICT_BATCH_SIZE,
) -> np.ndarray:
    """Outputs (float64, ``(n, n_outputs)``) of ``module`` for ``seqs``.

    ``precision``: a resolved one, run under autocast.
    """
    if module.training:
        module.eval()
    device = parameter_device(module)
    n = len(seqs)
    cast = autocast(precision, device.type)
    if n <= SMALL_PREDICT and seqs.kind == "tokens":
        with cast:
            return _few_token_sequences(module, seqs, n_tokens, device)
    ds = SequenceDataset(seqs, n_tokens=n_tokens)
    out = np.empty((n, n_outputs), dtype=np.float64)
    # flushing denormals pays off on long runs only; a few documents skip it
    denormals = flush_denormal() if n > 64 else contextlib.nullcontext()
    with torch.inference_mode(), thread_limit(), denormals, cast:
        for idx in bucket_batches(seqs.lengths, batch_size):
            xb, _ = ds.batch(idx)
            res = module(xb["x"].to(device), xb["lengths"])
            out[idx] = res.cpu().numpy()
    return out


def _few_token_sequences(module, seqs, n_tokens, device) -> np.ndarray:
    """One batch of a few token sequences: no sorting, no row copies.

    A latency path for serving one document at a time; the result is the
    same as the general path's (padding never changes a result).
    """
    lengths = seqs.lengths
    # max of a Python list: a numpy reduction here costs the call ~10 µs,
    # far more than it computes (docs/performance.rst, target d)
    xt = token_tensor(seqs.data[:, : max(lengths.tolist())], n_tokens)
    with torch.inference_mode(), thread_limit():
        res = module(xt.to(device), torch.from_numpy(lengths))
    return res.cpu().numpy()
