"""Attributions of a fitted network: integrated gradients and attention weights.

Integrated gradients (Sundararajan et al. 2017) of one scalar output per
sequence, on the recurrent layer's input side: the embedding output for token
ids, the raw input for numbers. The path runs from a baseline to the input
*inside each sequence's own length*:

* token ids: the baseline puts the out-of-vocabulary embedding (``OOV_ID``,
  what the model sees for an unknown word) at every real step;
* numbers: the baseline is the per-feature mean the network standardises by
  (``input_mean``; zeros with ``scale_inputs=False``).

Padding is the same in the input and in the baseline, so its attribution is
exactly 0, and, as every poolings ignores padding, it changes nothing else.
The path integral is a Gauss-Legendre quadrature with ``n_steps`` nodes on
[0, 1]: exact for polynomials of degree ``2 n_steps - 1``, so 50 nodes meet
completeness (attributions sum to ``f(x) - f(baseline)``) far inside 1e-2 on
the smooth networks here (``tests/test_explain.py`` checks every cell and
pooling).

Sequences are sorted by length into batches (as prediction does, see
``sklstm._inference``); each batch runs its ``n_steps`` interpolated copies
through one forward and one backward pass. Pure torch on validated sequences;
what is attributed (``readout``) is the caller's choice.

A trained recurrent network can also switch almost abruptly somewhere on the
path (a latch that flips), which no fixed number of nodes integrates. Rows
whose attributions miss ``f(x) - f(baseline)`` by more than ``refine_rtol``
are integrated again by adaptive bisection: each segment of the path is
integrated with ``REFINE_NODES`` Gauss-Legendre nodes and compared with the
exact change of ``f`` over it (``f`` at its ends); the segment
that misses most is halved next, until the misses add up to the tolerance or
there are ``REFINE_SEGMENTS`` segments. The jump is thus located and
integrated where it happens; the result is kept only where it adds up better
than the fixed rule's. This runs for the failing rows only, all of them
bisected together in lockstep: a round is one pass whether one row refines or
many (one row at a time, two passes per round, the 14 rows refined of 200
short documents took 490 passes and longer than the fixed rule for all 200).
"""

from __future__ import annotations

import contextlib
import heapq

import numpy as np
import torch
from torch import nn

from sklstm._batching import SequenceDataset, bucket_batches
from sklstm._ids import OOV_ID, PAD_ID
from sklstm._inference import PREDICT_BATCH_SIZE
from sklstm._members import members_of
from sklstm._module import parameter_device
from sklstm._pooling import attention_weights, valid_mask
from sklstm._runtime import flush_denormal, thread_limit

__all__ = [
    "IG_CPU_GATE_VALUES",
    "IG_STEPS_PER_PASS",
    "gauss_legendre",
    "integrated_gradients",
    "weights",
]

#: sequence steps (interpolated copies x time steps) in one backward pass on
#: CUDA: bounds the memory of a pass whatever the lengths
IG_STEPS_PER_PASS = 2**16

#: on a CPU, a pass holds at most this many gate values (steps x gates x
#: units x directions): passes that stay in the cache run faster. Measured on
#: 1,000 financial tweets (hidden size 128, 2 cores, 2026-12-02): passes of
#: 4,096 steps (2**21 gate values) explained them in 3.7-3.8 s against 5.9 s
#: with 65,536 steps and 10.0 s with 262,144 (benchmarks/bench_explain.py)
IG_CPU_GATE_VALUES = 2**21

#: Gauss-Legendre nodes per segment of the adaptive refinement
REFINE_NODES = 6

#: most segments the adaptive refinement cuts one row's path into
REFINE_SEGMENTS = 32


def gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n_steps``-point Gauss-Legendre rule on [0, 1]."""
    nodes, w = np.polynomial.legendre.leggauss(n_steps)
    return (nodes + 1.0) / 2.0, w / 2.0


@contextlib.contextmanager
def _differentiable(module: nn.Module, device: torch.device):
    """Eval mode, except that cuDNN's recurrent layers run their training kernels.

    cuDNN can backpropagate through an RNN only in training mode; each layer of
    the network is a one-layer RNN without internal dropout, so its training
    mode computes the same values. Only those layers are switched, and back.
    """
    was_training = module.training
    module.eval()
    rnns = []
    if device.type == "cuda":
        rnns = [m for m in module.modules() if isinstance(m, nn.RNNBase)]
        for m in rnns:
            m.train()
    try:
        yield
    finally:
        for m in rnns:
            m.eval()
        module.train(was_training)


def _run(module, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Network outputs from the attributed input ``h`` (embeddings or numbers)."""
    if module.embedding is None:
        h, lengths = module.numeric_input(h, lengths)
    return module.output(module.encode(h, lengths))


def _input_and_baseline(module, x: torch.Tensor, lengths: torch.Tensor):
    """The attributed input of a batch and its baseline (equal on padding)."""
    if module.embedding is not None:
        # every id but padding (an empty document is one padding step)
        inp = module.embedding(x)
        oov = module.embedding.weight[OOV_ID]
        return inp, torch.where((x != PAD_ID).unsqueeze(2), oov, inp)
    valid = valid_mask(lengths, x.shape[1]).unsqueeze(2)
    return x, torch.where(valid, module.input_mean, x)


def integrated_gradients(
    module,
    seqs,
    readout,
    targets: np.ndarray,
    *,
    n_tokens: int | None,
    n_steps: int = 50,
    refine_rtol: float | None = None,
):
    """Integrated gradients of ``readout`` for each sequence of ``seqs``.

    Parameters
    ----------
    module : SequenceNet
    seqs : Sequences
        Validated sequences.
    readout : callable
        ``readout(outputs, targets) -> (rows,)``: the explained scalar from the
        network's float64 outputs ``(rows, n_outputs)`` and each row's target
        index (a long tensor).
    targets : ndarray of int, shape (n,)
        The output index explained for each sequence.
    n_tokens : int or None
        Embedding rows (ids beyond read as out-of-vocabulary).
    n_steps : int
        Quadrature nodes.
    refine_rtol : float or None
        Rows whose attributions miss ``f(x) - f(baseline)`` by more than this
        (relative) are integrated again by adaptive bisection; None: never.

    Returns
    -------
    attributions : list of ndarray
        Per sequence, ``(length,)`` for token ids (summed over the embedding)
        or ``(length, n_features)`` for numbers, float64.
    outputs, baseline_outputs : ndarray of shape (n,)
        ``readout`` at the input and at the baseline.
    """
    device = parameter_device(module)
    nodes, w = gauss_legendre(n_steps)
    alphas = torch.tensor(nodes, dtype=torch.float32, device=device)
    w_rows = torch.tensor(w, dtype=torch.float64, device=device)
    n = len(seqs)
    ds = SequenceDataset(seqs, n_tokens=n_tokens)
    attributions = [None] * n
    outputs = np.empty(n)
    baseline_outputs = np.empty(n)
    tgt_all = torch.from_numpy(np.asarray(targets, dtype=np.int64)).to(device)
    with _differentiable(module, device), thread_limit(), flush_denormal():
        for idx in _passes(seqs.lengths, _steps_per_pass(module, device) // n_steps):
            xb, _ = ds.batch(idx)
            x = xb["x"].to(device)
            lengths = xb["lengths"].to(device)
            tgt = tgt_all[torch.from_numpy(idx).to(device)]
            B = len(idx)
            with torch.no_grad():
                inp, base = _input_and_baseline(module, x, lengths)
                ends = readout(
                    _run(module, torch.cat([inp, base]), lengths.repeat(2)),
                    tgt.repeat(2),
                )
            delta = inp - base
            path = base + alphas.view(-1, 1, 1, 1) * delta  # (S, B, T, D)
            path = path.reshape(n_steps * B, *inp.shape[1:]).requires_grad_(True)
            scores = readout(
                _run(module, path, lengths.repeat(n_steps)), tgt.repeat(n_steps)
            )
            (grad,) = torch.autograd.grad(
                (scores * w_rows.repeat_interleave(B)).sum(), path
            )
            attr = delta * grad.view(n_steps, B, *inp.shape[1:]).sum(0)
            if module.embedding is not None:
                attr = attr.sum(2)
            attr = attr.double().cpu().numpy()
            ends = ends.detach().cpu().numpy()
            outputs[idx], baseline_outputs[idx] = ends[:B], ends[B:]
            for row, i in enumerate(idx):
                attributions[i] = attr[row, : seqs.lengths[i]]
        if refine_rtol is not None:
            sums = np.array([a.sum() for a in attributions])
            delta = outputs - baseline_outputs
            miss = np.abs(sums - delta)
            bad = np.flatnonzero(miss > refine_rtol * np.abs(delta) + 1e-7)
            # the failing rows are refined together, in passes of the fixed
            # rule's size (a round holds two segments' nodes and a midpoint
            # of each row)
            budget = _steps_per_pass(module, device) // (2 * REFINE_NODES + 1)
            for group in _passes(seqs.lengths[bad], budget):
                rows = bad[group]
                xb, _ = ds.batch(rows)
                refined, errors = _bisected(
                    module,
                    readout,
                    xb["x"].to(device),
                    xb["lengths"].to(device),
                    tgt_all[torch.from_numpy(rows).to(device)],
                    tol=refine_rtol * np.abs(delta[rows]),
                )
                for i, attr, error in zip(rows, refined, errors):
                    if error < miss[i]:  # never worse than before
                        attributions[i] = attr
    return attributions, outputs, baseline_outputs


def _bisected(module, readout, x, lengths, tgt, *, tol: np.ndarray):
    """Integrated gradients of a batch of rows by adaptive bisection of each path.

    ``x`` holds the rows padded to the longest (padding gets 0, as in the
    fixed rule). Returns per row its attributions over its own length and how
    far their sum is from ``f(x) - f(baseline)``. Each segment's quadrature
    is compared with the exact change of ``f`` over it; each row's segment
    that misses most is halved next, until the row's misses add up to at most
    its ``tol`` or it has ``REFINE_SEGMENTS`` segments. The cut whose misses
    add up to least is returned.

    The rows are bisected in lockstep, one pass (a forward and a backward)
    per round: it holds the quadrature nodes of both halves of every row
    still refining and, in the same forward, ``f`` at their new midpoints.
    """
    device = x.device
    nodes, w = gauss_legendre(REFINE_NODES)
    nodes = torch.tensor(nodes, dtype=torch.float64, device=device)
    w = torch.tensor(w, dtype=torch.float64, device=device)
    with torch.no_grad():
        inp, base = _input_and_baseline(module, x, lengths)
    delta = inp - base

    def one_pass(segments, points):
        """Quadratures of ``segments`` ``(row, a, b)`` and ``f`` at ``points``
        ``(row, alpha)``: one forward and one backward pass for all."""
        k = len(segments)
        a = torch.tensor([s[1] for s in segments], dtype=torch.float64, device=device)
        width = torch.tensor(
            [s[2] - s[1] for s in segments], dtype=torch.float64, device=device
        )
        seg_rows = torch.tensor([s[0] for s in segments], device=device)
        rows = torch.cat(
            [
                seg_rows.repeat_interleave(REFINE_NODES),
                torch.tensor([p[0] for p in points], device=device),
            ]
        )
        alphas = torch.cat(
            [
                (a[:, None] + width[:, None] * nodes).reshape(-1),
                torch.tensor(
                    [p[1] for p in points], dtype=torch.float64, device=device
                ),
            ]
        )
        path = base[rows] + alphas.float().view(-1, 1, 1) * delta[rows]
        path = path.requires_grad_(True)
        scores = readout(_run(module, path, lengths[rows]), tgt[rows])
        weights = (width[:, None] * w).reshape(-1)
        (grad,) = torch.autograd.grad(
            (scores[: k * REFINE_NODES] * weights).sum(), path
        )
        grad = grad[: k * REFINE_NODES].view(k, REFINE_NODES, *delta.shape[1:])
        parts = (delta[seg_rows] * grad.sum(1)).double()
        return parts, scores[k * REFINE_NODES :].detach().double().tolist()

    def entries(bounds, parts):
        """Heap entries of segments ``(a, b, f(a), f(b))`` with their parts."""
        totals = parts.reshape(len(bounds), -1).sum(1).tolist()
        return [
            (-abs(total - (f_hi - f_lo)), lo, hi, f_lo, f_hi, part)
            for (lo, hi, f_lo, f_hi), part, total in zip(bounds, parts, totals)
        ]

    n = len(x)
    ends = [(i, alpha) for alpha in (0.0, 1.0) for i in range(n)]
    parts, f_ends = one_pass([(i, 0.0, 1.0) for i in range(n)], ends)
    f0, f1 = f_ends[:n], f_ends[n:]
    heaps = [[e] for e in entries([(0.0, 1.0, *f) for f in zip(f0, f1)], parts)]
    misses = [-h[0][0] for h in heaps]
    best = [(misses[i], heaps[i][0][5]) for i in range(n)]
    # each row halves the segment that misses most, until its misses add up
    # to less than its tolerance or its budget is spent; halving can also
    # raise the misses (two coarse estimates for one), so the cut with the
    # smallest total miss seen is what is returned
    while True:
        active = [
            i
            for i in range(n)
            if misses[i] > tol[i] and len(heaps[i]) < REFINE_SEGMENTS
        ]
        if not active:
            break
        worst = [heapq.heappop(heaps[i]) for i in active]
        mids = [(e[1] + e[2]) / 2 for e in worst]
        halves = [
            (i, lo, hi)
            for i, (_, a, b, *_), m in zip(active, worst, mids)
            for lo, hi in ((a, m), (m, b))
        ]
        parts, f_mid = one_pass(halves, list(zip(active, mids)))
        bounds = [
            half
            for (_, a, b, fa, fb, _), m, fm in zip(worst, mids, f_mid)
            for half in ((a, m, fa, fm), (m, b, fm, fb))
        ]
        for (i, *_), e in zip(halves, entries(bounds, parts)):
            heapq.heappush(heaps[i], e)
        for i in active:
            misses[i] = -sum(e[0] for e in heaps[i])
            if misses[i] < best[i][0]:
                best[i] = (misses[i], sum(e[5] for e in heaps[i]))
    refined, errors = [], []
    for i in range(n):
        total = best[i][1][: int(lengths[i])]
        # the completeness error of the result (at most the segments' misses)
        errors.append(abs(float(total.sum()) - (f1[i] - f0[i])))
        if module.embedding is not None:
            total = total.sum(1)
        refined.append(total.cpu().numpy())
    return refined, errors


def _steps_per_pass(module, device: torch.device) -> int:
    """Sequence steps in one pass: all a CUDA device's memory bound allows,
    what stays in the cache on a CPU."""
    if device.type == "cuda":
        return IG_STEPS_PER_PASS
    values = 0
    for member in members_of(module):
        layer = member.forward_layers[0]
        gates = layer.weight_hh_l0.shape[0]  # gate blocks x units (4H for an LSTM)
        values += gates * (1 if member.backward_layers is None else 2)
    return max(1, IG_CPU_GATE_VALUES // values)


def _passes(lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """Index batches sorted by length, each within ``budget`` padded steps."""
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = lengths[order]
    batches, start, n = [], 0, len(order)
    while start < n:
        # the longest member is the last: grow while the batch fits (at most
        # ``budget`` rows, as each has a step or more)
        longest = sorted_lengths[start : start + budget]
        fits = np.arange(1, len(longest) + 1) * longest <= budget
        size = max(1, int(fits.sum()))  # fits is True, then False
        batches.append(order[start : start + size])
        start += size
    return batches


def weights(module, seqs, *, n_tokens: int | None) -> list[np.ndarray]:
    """Attention weights over each sequence's real steps (``pooling="attention"``).

    The steps are those the recurrent layers read: time steps, or windows for
    series read in patches. Each array sums to 1.
    """
    device = parameter_device(module)
    ds = SequenceDataset(seqs, n_tokens=n_tokens)
    out = [None] * len(seqs)
    if module.training:
        module.eval()
    members = members_of(module)
    with torch.inference_mode(), thread_limit():
        for idx in bucket_batches(seqs.lengths, PREDICT_BATCH_SIZE):
            xb, _ = ds.batch(idx)
            a = 0.0
            for member in members:  # several members: their mean
                h, lengths = member.input_vectors(xb["x"].to(device), xb["lengths"])
                states = member.states(h, lengths)[0]
                valid = valid_mask(lengths, states.shape[1])
                a = a + attention_weights(member.attention(states).squeeze(2), valid)
            a = (a / len(members)).double().cpu().numpy()
            for row, (i, k) in enumerate(zip(idx, lengths.cpu().numpy())):
                out[i] = a[row, :k]
    return out
