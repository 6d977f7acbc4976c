"""The model file: atomic writes, and damaged or malicious archives."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from _model_files import npy_bytes, rewrite, set_key

from sklstm import ModelFileError, TextSequencer, load, save


# --------------------------------------------------------------------------- #
# atomic writes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fail_in", ["_write_array", "fsync", "replace"])
@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_save_leaves_no_half_file(
    classifier, tmp_path, monkeypatch, fail_in, existing
):
    import sklstm._model_file as model_file

    clf, X = classifier
    path = tmp_path / "model.sklstm"
    if existing:
        save(TextSequencer(), path)
        before = path.read_bytes()

    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3 or fail_in != "_write_array":
            raise KeyboardInterrupt("simulated crash")
        return original(*args, **kwargs)

    if fail_in == "_write_array":
        original = model_file._write_array
        monkeypatch.setattr(model_file, "_write_array", crash)
    else:
        monkeypatch.setattr(model_file.os, fail_in, crash)
    with pytest.raises(KeyboardInterrupt):
        save(clf, path)
    monkeypatch.undo()

    assert calls
    assert os.listdir(tmp_path) == (["model.sklstm"] if existing else [])
    if existing:
        assert path.read_bytes() == before
        assert type(load(path)) is TextSequencer


def test_save_replaces_an_existing_file(classifier, tmp_path):
    clf, X = classifier
    path = tmp_path / "model.sklstm"
    save(TextSequencer(), path)
    save(clf, path)
    np.testing.assert_array_equal(load(path).predict(X), clf.predict(X))
    assert os.listdir(tmp_path) == ["model.sklstm"]


# --------------------------------------------------------------------------- #
# damaged and malicious files
# --------------------------------------------------------------------------- #
def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.sklstm"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated"):
            load(bad)


def test_corrupted_weights(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("arrays/1.npy")
    # flip bytes inside the stored (uncompressed) array data: the CRC catches it
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start : start + 8] = bytes(8)
    bad = tmp_path / "flipped.sklstm"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        load(bad)


def test_not_a_model_file(tmp_path):
    (tmp_path / "text.sklstm").write_text("hello")
    with pytest.raises(ModelFileError, match="not a valid zip"):
        load(tmp_path / "text.sklstm")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="no 'model.json'"):
        load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.sklstm")


def test_newer_format_version(saved, tmp_path):
    bad = rewrite(
        saved, tmp_path / "new.sklstm", edit=set_key("format_version", value=2)
    )
    with pytest.raises(ModelFileError, match="format version 2.*Upgrade sklstm"):
        load(bad)


class _Evil:
    """Unpickling this creates a file: the marker that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payloads_are_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pwned"
    # the payload is live: unpickling it really creates the marker
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Evil(control))).close()
    assert control.exists()

    # a pickle instead of a model file
    raw = tmp_path / "raw.sklstm"
    raw.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(ModelFileError):
        load(raw)

    # a pickled object array where the classes should be
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(marker)
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["attributes"]["classes_"]["entry"]
    bad = rewrite(
        saved,
        tmp_path / "npy.sklstm",
        replace={entry: npy_bytes(evil, allow_pickle=True)},
    )
    with pytest.raises(ModelFileError, match="without unpickling"):
        load(bad)

    # a pickle where the JSON description should be
    bad = rewrite(
        saved,
        tmp_path / "json.sklstm",
        replace={"model.json": pickle.dumps(_Evil(marker))},
    )
    with pytest.raises(ModelFileError):
        load(bad)
    assert not marker.exists()


def test_zip_bomb_is_refused(saved, tmp_path):
    bomb = tmp_path / "bomb.sklstm"
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        zout.writestr("arrays/999.npy", bytes(32 << 20), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="unpacks to"):
        load(bomb)


def test_array_header_promising_more_data_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["net"]["state_dict"]["head.bias"]["entry"]
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**13,)}
    np.lib.format.write_array_header_1_0(buf, header)
    forged = buf.getvalue() + bytes(12)  # the data of 3 floats only
    bad = rewrite(saved, tmp_path / "forged.sklstm", replace={entry: forged})
    with pytest.raises(ModelFileError, match="announces"):
        load(bad)
