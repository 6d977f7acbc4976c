"""The early-stopping split keeps repeated sequences and cut-out phrases together.

A phrase cut from a training sentence (SST-2 ships 67k such phrases of 6.9k
sentences) or a duplicate document is no held-out evidence: on the validation
side it makes early stopping reward memorisation.
"""

import numpy as np
import pytest

import sklstm._base as base
from sklstm import LSTMClassifier
from sklstm._early_stopping import validation_split
from sklstm._leakage import (
    keep_groups_together,
    sequence_groups,
    token_groups,
)
from sklstm._validation import Sequences


def _pad(seqs):
    T = max(map(len, seqs))
    data = np.zeros((len(seqs), T), dtype=np.int64)
    for i, s in enumerate(seqs):
        data[i, : len(s)] = s
    return data, np.array([len(s) for s in seqs])


def _contains(host, part):
    k = len(part)
    return any(host[i : i + k] == part for i in range(len(host) - k + 1))


def _brute_force_roots(seqs, max_contained):
    """Parent: the longest (then first) longer sequence that contains it, for
    short sequences; else the first identical one. Then follow to the root."""
    n = len(seqs)
    parent = list(range(n))
    for i, s in enumerate(seqs):
        parent[i] = next(j for j in range(n) if seqs[j] == s)
        if len(s) <= max_contained:
            hosts = [j for j in range(n) if len(seqs[j]) > len(s)]
            hosts = [j for j in hosts if _contains(seqs[j], s)]
            if hosts:
                parent[i] = min(hosts, key=lambda j: (-len(seqs[j]), j))
    roots = []
    for i in range(n):
        while parent[i] != i and parent[parent[i]] != parent[i]:
            i = parent[i]
        roots.append(parent[i])
    return np.array(roots)


def test_phrases_and_duplicates_share_the_root_of_the_sentence():
    sentence = [5, 6, 7, 8, 9]
    seqs = [
        [7, 8],  # cut from the sentence and from the phrase below
        sentence,
        [6, 7, 8],  # cut from the sentence
        [3, 4],  # unrelated
        list(sentence),  # duplicate of the sentence
        [8, 7],  # the same tokens in another order: not contained
    ]
    groups = sequence_groups(*_pad(seqs))
    assert groups.tolist() == [1, 1, 1, 3, 1, 5]


@pytest.mark.parametrize("seed", range(4))
def test_groups_match_a_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(60):
        if seqs and rng.random() < 0.5:  # a run cut from an earlier sequence
            host = seqs[rng.integers(len(seqs))]
            a = rng.integers(len(host))
            b = rng.integers(a + 1, len(host) + 1)
            seqs.append(host[a:b])
        else:
            seqs.append(rng.integers(2, 6, size=rng.integers(1, 12)).tolist())
    groups = sequence_groups(*_pad(seqs))
    np.testing.assert_array_equal(groups, _brute_force_roots(seqs, 32))
    # every member of a group is its root or lies inside it
    for i, r in enumerate(groups):
        assert _contains(seqs[r], seqs[i])


def test_long_documents_fall_back_to_exact_duplicates(monkeypatch):
    import sklstm._leakage as leakage

    seqs = [[2, 3, 4, 5], [3, 4], [2, 3, 4, 5], [9, 9]]
    monkeypatch.setattr(leakage, "MAX_HASHED_RUNS", 3)
    assert sequence_groups(*_pad(seqs)).tolist() == [0, 1, 0, 3]


def test_coincidental_containment_in_natural_texts_is_not_grouped():
    # "good" inside "not good": one short text of twenty inside another is
    # no phrase-level data (under MIN_CONTAINED_SHARE); duplicates still group
    rng = np.random.default_rng(0)
    seqs = [rng.integers(10, 90, size=8).tolist() for _ in range(18)]
    seqs += [[3, 4], [2, 3, 4]]
    groups = sequence_groups(*_pad(seqs))
    np.testing.assert_array_equal(groups, np.arange(20))
    groups = sequence_groups(*_pad(seqs + [list(seqs[0])]))
    assert groups[20] == 0 and (groups[:20] == np.arange(20)).all()


def test_numeric_series_are_not_grouped():
    series = Sequences(np.ones((4, 3), dtype=np.float32), np.full(4, 3), "numeric")
    assert token_groups(series) is None
    tokens = Sequences(*_pad([[2, 3], [2, 3], [4]]), "tokens")
    assert token_groups(tokens).tolist() == [0, 0, 2]


def test_keep_groups_together_moves_members_to_their_roots_side():
    groups = np.array([0, 0, 2, 2, 4])
    train, valid = keep_groups_together([0, 3, 4], [1, 2], groups)
    assert sorted(train) == [0, 1, 4] and sorted(valid) == [2, 3]


def test_validation_split_never_separates_a_group():
    rng = np.random.default_rng(0)
    n = 500
    groups = np.arange(n)
    groups[250:] = rng.integers(0, 250, size=250)  # half the rows are copies
    y = rng.integers(0, 2, size=n)
    train, valid = validation_split(n, y, 0.2, 0, stratify=True, groups=groups)
    assert len(train) + len(valid) == n and len(np.intersect1d(train, valid)) == 0
    assert set(groups[train]).isdisjoint(groups[valid])
    assert 0.1 < len(valid) / n < 0.3
    # one group holding everything: the plain split is kept, not an empty side
    train, valid = validation_split(
        n, y, 0.2, 0, stratify=True, groups=np.zeros(n, int)
    )
    assert len(valid) == 100


def test_fit_holds_out_no_phrase_of_a_training_sentence(monkeypatch):
    rng = np.random.default_rng(0)
    sentences = [rng.integers(2, 40, size=12).tolist() for _ in range(100)]
    seqs = list(sentences)
    for s in sentences:  # ten phrases of each sentence, as in SST-2
        for _ in range(10):
            a = rng.integers(0, 8)
            seqs.append(s[a : a + rng.integers(2, 5)])
    X, _ = _pad(seqs)
    y = np.array([s[0] % 2 for s in seqs])
    seen = {}

    def spy(*args, **kwargs):
        seen["split"] = validation_split(*args, **kwargs)
        return seen["split"]

    monkeypatch.setattr(base, "validation_split", spy)
    LSTMClassifier(
        early_stopping=True, max_epochs=2, hidden_size=8, random_state=0
    ).fit(X, y)
    train, valid = seen["split"]
    groups = sequence_groups(*_pad(seqs))
    assert set(groups[train]).isdisjoint(groups[valid])
    assert len(valid) > 0
