"""Shared by the model-file tests: small settings and data, and ways to edit a saved file."""

import io
import json
import zipfile

import numpy as np

TINY = dict(hidden_size=8, embedding_dim=8, max_epochs=2, n_members=1, random_state=0)
TEXTS = [
    "good movie",
    "bad movie",
    "great film",
    "awful film",
    "really good plot",
    "really bad acting",
    "great fun",
    "awful and bad",
] * 5
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"] * 5


def rewrite(src, dst, *, edit=None, replace=None, drop=()):
    """Copy a model file, editing its JSON and replacing or dropping entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            data = zin.read(name)
            if name == "model.json" and edit is not None:
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            if replace and name in replace:
                data = replace[name]
            zout.writestr(name, data)
    return dst


def npy_bytes(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def set_key(*keys, value):
    def edit(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return edit


def round_trip(model, path, how):
    """``model`` stored and read back by ``how``: "pickle", "joblib" or "sklstm"."""
    import pickle

    import joblib

    import sklstm

    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    if how == "joblib":
        joblib.dump(model, path)
        return joblib.load(path)
    sklstm.save(model, path)
    return sklstm.load(path)
