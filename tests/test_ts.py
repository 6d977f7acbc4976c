"""The .ts reader and the channels-first converter."""

import numpy as np
import pytest

from sklstm import LSTMClassifier
from sklstm.datasets import from_channels_first, load_ts_file, shared_datasets_dir

SHARED = shared_datasets_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "ts").is_dir(),
    reason="the .ts datasets live in ../shared/datasets/ts, absent here",
)


def test_reads_a_small_file_with_labels(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text(
        "# a comment\n@problemName toy\n@univariate false\n@dimensions 2\n"
        "@equalLength false\n@classLabel true a b\n@data\n"
        "1,2,3:4,5,6:a\n7,8:9,10:b\n"
    )
    X, y = load_ts_file(path)
    assert isinstance(X, list) and [x.shape for x in X] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(X[0][:, 1], [4, 5, 6])
    assert y.tolist() == ["a", "b"]


def test_regression_targets_and_equal_length_array(tmp_path):
    path = tmp_path / "reg.ts"
    path.write_text("@problemname r\n@targetlabel true\n@data\n1,2:0.5\n3,4:1.5\n")
    X, y = load_ts_file(path)
    assert X.shape == (2, 2, 1)
    assert y.dtype == np.float64 and y.tolist() == [0.5, 1.5]


def test_malformed_file_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@classLabel true a\n@data\n1,2:3:a\n")
    with pytest.raises(ValueError, match="bad.ts:3"):
        load_ts_file(path)
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="header"):
        load_ts_file(path)


def test_from_channels_first():
    X = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (cases, channels, steps)
    out = from_channels_first(X)
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out[1, :, 2], X[1, 2])
    ragged = from_channels_first([np.zeros((3, 5)), np.zeros((3, 7))])
    assert [r.shape for r in ragged] == [(5, 3), (7, 3)]
    with pytest.raises(ValueError, match="3-D"):
        from_channels_first(np.zeros((2, 3)))


@needs_shared
@pytest.mark.parametrize(
    "name, n_train, n_test, shape, n_classes",
    [
        ("GunPoint", 50, 150, (150, 1), 2),
        ("BasicMotions", 40, 40, (100, 6), 4),
        ("JapaneseVowels", 270, 370, None, 9),
    ],
)
def test_real_ts_files_load(name, n_train, n_test, shape, n_classes):
    folder = SHARED / "ts" / "classification" / name
    X_train, y_train = load_ts_file(folder / f"{name}_TRAIN.ts")
    X_test, _ = load_ts_file(folder / f"{name}_TEST.ts")
    assert len(X_train) == n_train and len(X_test) == n_test
    assert len(set(y_train)) == n_classes
    if shape is None:  # unequal lengths come as a list
        assert isinstance(X_train, list)
        assert {x.shape[1] for x in X_train} == {12}
        assert min(len(x) for x in X_train) == 7
    else:
        assert X_train.shape[1:] == shape


@needs_shared
@pytest.mark.realdata
def test_unequal_length_series_train_without_manual_padding():
    folder = SHARED / "ts" / "classification" / "JapaneseVowels"
    X_train, y_train = load_ts_file(folder / "JapaneseVowels_TRAIN.ts")
    X_test, y_test = load_ts_file(folder / "JapaneseVowels_TEST.ts")
    clf = LSTMClassifier(random_state=0).fit(X_train, y_train)
    # 1-nearest-neighbour on resampled series: 0.951 (issue 5 reference)
    assert clf.score(X_test, y_test) > 0.9
