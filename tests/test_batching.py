"""Batching: length buckets, shards for distributed training, weighted batches."""

import numpy as np
import pytest

from sklstm import LSTMClassifier
from sklstm._batching import (
    BucketBatchLoader,
    SequenceDataset,
    bucket_batches,
    shard_batches,
    subset,
)
from sklstm._validation import check_sequences


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n_batches", [0, 1, 2, 3, 5, 6, 7, 10])
def test_shard_batches_equal_disjoint_and_covering(k, n_batches):
    batches = [f"b{i}" for i in range(n_batches)]
    shards = [shard_batches(batches, k, i) for i in range(k)]
    per_shard = -(-n_batches // k)
    # equal sizes: a distributed step needs every process
    assert [len(s) for s in shards] == [per_shard] * k
    # every batch is used; only the wrapped-around remainder repeats
    flat = [b for s in shards for b in s]
    assert set(flat) == set(batches)
    n_repeats = per_shard * k - n_batches
    assert len(flat) - len(set(flat)) == n_repeats
    if n_batches >= k:
        # with enough batches, shards are disjoint but for the repeats,
        # which are the first batches of the list, at the end of the last
        # shards
        assert flat.count(batches[0]) == 1 + (n_repeats > 0)
        for i, s in enumerate(shards):
            assert s[: n_batches // k] == batches[i::k][: n_batches // k]


def test_shard_batches_rejects_bad_index():
    with pytest.raises(ValueError, match="shard_index"):
        shard_batches([1, 2], 2, 2)


def test_sharded_loader_splits_the_same_bucketed_epoch(make_tokens):
    X, y, _ = make_tokens(n=300)
    seqs, y, _ = check_sequences(LSTMClassifier(), X, y, reset=True)
    ds = SequenceDataset(seqs, y, n_tokens=31)

    def epoch(**kw):
        loader = BucketBatchLoader(
            ds, batch_size=32, shuffle=True, random_state=np.random.default_rng(5), **kw
        )
        return [xb["x"].numpy() for xb, _ in loader]

    whole = epoch()
    assert len(whole) == 10  # 300 rows in batches of 32
    shards = [epoch(num_shards=3, shard_index=i) for i in range(3)]
    # process i gets batches i, i+3, ... of the very same bucketed epoch
    for i, shard in enumerate(shards):
        assert len(shard) == 4
        expected = (whole + whole)[i:12:3]
        for got, want in zip(shard, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_training_batches_hold_similar_lengths_and_cover_every_row(rng):
    lengths = rng.integers(1, 200, size=1000)
    batches = bucket_batches(lengths, 32, rng=np.random.default_rng(0), pool_batches=8)
    rows = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(rows), np.arange(1000))
    # inside a pool the rows are sorted by length: a batch spans a narrow range
    spread = np.median([np.ptp(lengths[b]) for b in batches])
    assert spread < np.ptp(lengths) / 4
    # a new generator state gives new batches (epochs differ)
    again = bucket_batches(lengths, 32, rng=np.random.default_rng(1), pool_batches=8)
    assert any(not np.array_equal(a, b) for a, b in zip(batches, again))


def test_prediction_batches_are_sorted_by_length(rng):
    lengths = rng.integers(1, 50, size=100)
    order = np.concatenate(bucket_batches(lengths, 16))
    assert (np.diff(lengths[order]) >= 0).all()


def test_weighted_subset_batches_carry_the_weights_of_their_rows(make_tokens):
    X, y, _ = make_tokens(n=50)
    seqs, y, _ = check_sequences(LSTMClassifier(), X, y, reset=True)
    weights = np.arange(50, dtype=np.float64)
    ds = subset(
        SequenceDataset(seqs, y, n_tokens=31, weights=weights), np.arange(10, 20)
    )
    xb, target = ds.batch(np.array([0, 3]))
    np.testing.assert_array_equal(target["w"].numpy(), [10.0, 13.0])
    np.testing.assert_array_equal(target["y"].numpy(), y[[10, 13]])
    assert xb["x"].shape[1] == int(seqs.lengths[[10, 13]].max())


def test_unseen_ids_read_as_out_of_vocabulary():
    from sklstm._batching import token_tensor
    from sklstm._ids import OOV_ID

    x = np.array([[2, 9, 40, 0]], dtype=np.int64)
    np.testing.assert_array_equal(
        token_tensor(x, n_tokens=10).numpy(), [[2, 9, OOV_ID, 0]]
    )
