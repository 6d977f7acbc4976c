"""Which token sequences a held-out split must keep together.

A sequence that also occurs inside a longer training sequence (an exact
duplicate, or a phrase cut from a sentence, as in SST-2's 67,349 training
phrases of 6,920 sentences) is no held-out evidence: the network has read it
in training. Early stopping on such a split measures memorisation, keeps
improving, and trains too long (SST-2, seeds 0-2: 13-14 epochs and 0.794 on
dev against 7-11 epochs and 0.822 with the leak removed); the temperature
and conformity scores fitted on it are optimistic too.

:func:`sequence_groups` gives each sequence the index of its *root*: the
longest sequence that contains it as a contiguous run of tokens (ties: the
first), followed up to a sequence that no other contains. The split then
moves each group to the side its root is on.

Found with 64-bit polynomial hashes of token runs, one run length at a time,
vectorised in numpy. Sequences of up to ``MAX_CONTAINED`` tokens are looked
for inside the others; when that search would hash more than
``MAX_HASHED_RUNS`` runs (long documents), only exact duplicates are
grouped. Containment counts only in phrase-level data, where at least
``MIN_CONTAINED_SHARE`` of the sequences lie inside another (SST-2: 88%). In
natural texts the few that do are short texts that a longer one happens to
contain, often with the other label (waimai_10k, Chinese read character by
character: 2% of the reviews, 28% of those labelled unlike the longer one,
as the positive "包装很精致" inside a negative review); they are no leak,
and moving them would only skew the split, so there only exact duplicates
are grouped.

Two different runs that share a hash (a chance of 2**-64 per pair) merely
put two groups together. Numpy only.

Used by :func:`sklstm._early_stopping.validation_split`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_CONTAINED",
    "MAX_HASHED_RUNS",
    "MIN_CONTAINED_SHARE",
    "keep_groups_together",
    "sequence_groups",
    "token_groups",
]

#: sequences of at most this many tokens are looked for inside longer ones
MAX_CONTAINED = 32

#: containment groups only when at least this share of the sequences lies
#: inside a longer one (phrase-level data; else duplicates only)
MIN_CONTAINED_SHARE = 0.1

#: the containment search hashes at most this many token runs (else:
#: exact duplicates only)
MAX_HASHED_RUNS = 20_000_000

_BLOCK = 2048  # host sequences hashed together
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_MASK = 2**64 - 1


def _powers(base: int, count: int) -> np.ndarray:
    out = np.empty(count, dtype=np.uint64)
    x = 1
    for i in range(count):
        out[i] = x
        x = (x * base) & _MASK
    return out


def _runs_to_hash(lengths: np.ndarray) -> int:
    """Token runs the containment search would hash (all lengths it looks for)."""
    counts = np.bincount(lengths)
    L = np.arange(len(counts))
    return int(
        sum(
            ((L >= k) * (L - k + 1) * counts).sum()
            for k in np.flatnonzero(counts[: MAX_CONTAINED + 1])
            if k > 0
        )
    )


def _prefix_sums(data: np.ndarray) -> np.ndarray:
    """``S[:, t] = sum_{j < t} (x_j + 1) B**j`` modulo 2**64, shape (n, T + 1).

    The hash of the run ``x_i .. x_{i+k-1}`` is ``(S[i+k] - S[i]) B**-i``: the
    same wherever the run sits.
    """
    n, T = data.shape
    out = np.zeros((n, T + 1), dtype=np.uint64)
    powers = _powers(_BASE, T)
    with np.errstate(over="ignore"):
        np.cumsum(
            (data.astype(np.uint64) + np.uint64(1)) * powers, axis=1, out=out[:, 1:]
        )
    return out


def _duplicate_roots(data: np.ndarray, lengths: np.ndarray, S=None) -> np.ndarray:
    """The first index of each set of identical sequences (no containment).

    ``S``: the prefix sums of all of ``data`` when already computed.
    """
    if S is not None:
        full = S[np.arange(len(S)), lengths]
    else:
        full = np.empty(len(lengths), dtype=np.uint64)
        for s in range(0, len(lengths), 4096):
            rows = slice(s, s + 4096)
            block = _prefix_sums(data[rows])
            full[rows] = block[np.arange(len(block)), lengths[rows]]
    key = np.stack([lengths.astype(np.uint64), full], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first[inverse.ravel()]


def _runs_in(S, inverse, hosts, lengths, k, wanted):
    """(hashes, host index) of every run of ``k`` tokens inside ``hosts``
    (sorted longest first) whose hash is in the sorted array ``wanted``.

    Hosts go in blocks of similar length, so that little of the padding is
    hashed; only the runs that a query equals are kept (a lookup, not a sort
    of all runs: in natural texts few match).
    """
    found_runs, found_hosts = [], []
    # a table of the hashes' low bits screens the runs before the exact lookup
    bits = int(np.clip(np.ceil(np.log2(16 * len(wanted) + 1)), 16, 24))
    low = np.uint64(2**bits - 1)
    table = np.zeros(2**bits, dtype=bool)
    table[(wanted & low).astype(np.intp)] = True
    for start in range(0, len(hosts), _BLOCK):
        block = hosts[start : start + _BLOCK]
        width = lengths[block[0]] - k + 1
        runs = (S[block, k : k + width] - S[block, :width]) * inverse[:width]
        valid = np.arange(width)[None, :] <= (lengths[block] - k)[:, None]
        host_of = np.broadcast_to(block[:, None], runs.shape)[valid]
        runs = runs[valid]
        maybe = table[(runs & low).astype(np.intp)]
        runs, host_of = runs[maybe], host_of[maybe]
        at = np.minimum(np.searchsorted(wanted, runs), len(wanted) - 1)
        hit = wanted[at] == runs
        found_runs.append(runs[hit])
        found_hosts.append(host_of[hit])
    if not found_runs:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.concatenate(found_runs), np.concatenate(found_hosts)


def sequence_groups(data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Root index of each token sequence (its own index when nothing contains it).

    ``data``: padded token ids (n, T); ``lengths``: each row's real length.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n, T = data.shape
    if n == 0:
        return np.arange(0)
    if _runs_to_hash(lengths) > MAX_HASHED_RUNS or n * (T + 1) > MAX_HASHED_RUNS:
        return _duplicate_roots(data, lengths)
    order = np.lexsort((np.arange(n), -lengths))  # longest first, then by index
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    S = _prefix_sums(data)
    inverse = _powers(pow(_BASE, -1, 2**64), T)
    duplicates = _duplicate_roots(data, lengths, S)
    parent = duplicates.copy()
    with np.errstate(over="ignore"):
        for k in np.unique(lengths[(lengths >= 1) & (lengths <= MAX_CONTAINED)]):
            queries = np.flatnonzero(lengths == k)
            q = S[queries, k]
            hosts = order[: np.count_nonzero(lengths > k)]  # longest first
            runs, host_of = _runs_in(S, inverse, hosts, lengths, k, np.unique(q))
            if len(runs) == 0:
                continue
            # per hash, the host that comes first (longest, then lowest index)
            first = np.lexsort((rank[host_of], runs))
            runs, host_of = runs[first], host_of[first]
            keep = np.r_[True, runs[1:] != runs[:-1]]
            runs, host_of = runs[keep], host_of[keep]
            at = np.minimum(np.searchsorted(runs, q), len(runs) - 1)
            found = runs[at] == q
            parent[queries[found]] = host_of[at[found]]
    if np.mean(parent != duplicates) < MIN_CONTAINED_SHARE:
        return duplicates  # natural texts: containment is coincidence
    # follow the parents to the roots (each step halves the remaining depth)
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def token_groups(seqs):
    """:func:`sequence_groups` of validated token sequences; None for numbers."""
    if seqs.kind != "tokens":
        return None
    return sequence_groups(seqs.data, seqs.lengths)


def keep_groups_together(train_idx, valid_idx, groups: np.ndarray):
    """Move every member of a group to the side its root is on."""
    n = len(groups)
    in_valid = np.zeros(n, dtype=bool)
    in_valid[valid_idx] = True
    moved = in_valid[groups]
    if np.array_equal(moved, in_valid):
        return train_idx, valid_idx
    keep_order = np.concatenate([np.asarray(train_idx), np.asarray(valid_idx)])
    side = moved[keep_order]
    return keep_order[~side], keep_order[side]
