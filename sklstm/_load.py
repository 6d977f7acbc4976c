"""Loading: :func:`sklstm.load` and the ``_Reader`` that rebuilds a model.

The reader walks the tree of ``model.json`` and creates only whitelisted
classes, checking every value, parameter and attribute name against what
:func:`sklstm.save` writes; anything else is a :class:`~sklstm.ModelFileError`.
Opening and checking the container is ``sklstm._model_file``'s job, rebuilding
a fitted network ``sklstm._load_net``'s.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile

import numpy as np
import torch

from sklstm._base import _BaseLSTM
from sklstm._compat import get_param_names, validate_params
from sklstm._language_model import LSTMLanguageModel
from sklstm._load_net import _read_language_net, _read_net
from sklstm._model_file import (
    _ARRAY_ENTRY,
    _MAX_DEPTH,
    _SKOPS_ENTRY,
    _ZIP_ERRORS,
    ModelFileError,
    _damaged,
    _dict,
    _list,
    _node,
    _open_zip,
    _read_array,
    _read_document,
    _to_tensor,
    _whitelist,
)
from sklstm._persistence import added_parameters
from sklstm._runtime import resolve_device
from sklstm._version import __version__
from sklstm.exceptions import InconsistentVersionWarning

__all__ = ["load"]

# names of the fitted attributes the reader sets: no dunders, no methods
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9][A-Za-z0-9_]*")


class _Reader:
    """Rebuilds a model from the nodes of ``model.json``, checking everything."""

    def __init__(self, zf: zipfile.ZipFile, device, device_param):
        self.zf = zf
        self.names = set(zf.namelist())
        self.device = device
        self.device_param = device_param
        self.whitelist = _whitelist()

    def entry(self, name, pattern, where: str) -> bytes:
        if not isinstance(name, str) or not pattern.fullmatch(name):
            raise ModelFileError(f"{where} names an invalid entry {name!r}.")
        if name not in self.names:
            raise ModelFileError(
                f"{where} refers to the entry {name!r}, which the file lacks: the "
                "file is truncated or was modified."
            )
        return self.zf.read(name)

    def array(self, node: dict, where: str) -> np.ndarray:
        data = self.entry(node.get("entry"), _ARRAY_ENTRY, where)
        try:
            arr = _read_array(data)
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the array {node.get('entry')!r} cannot be read without "
                f"unpickling or is damaged ({exc})."
            ) from exc
        if arr.dtype.kind not in "biufcUS" or arr.dtype.fields:
            raise ModelFileError(f"{where}: unexpected array dtype {arr.dtype}.")
        return arr

    def value(self, node, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise ModelFileError(f"{where} is nested too deeply.")
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.value(x, where, depth + 1) for x in node]
        if not isinstance(node, dict):
            raise ModelFileError(f"{where}: unexpected value {node!r}.")
        kind = node.get("type")
        if kind == "tuple":
            return tuple(self.value(x, where, depth + 1) for x in _list(node, "items"))
        if kind == "map":
            items = node.get("items")
            if not isinstance(items, dict):
                raise ModelFileError(f"{where}: malformed mapping.")
            return {k: self.value(x, where, depth + 1) for k, x in items.items()}
        if kind == "tensor":
            arr = self.array(_node(node, "array", where), where)
            if arr.dtype.kind not in "biuf":
                raise ModelFileError(f"{where}: a tensor of dtype {arr.dtype}.")
            return _to_tensor(arr)
        if kind == "dict":
            out = {}
            for pair in _list(node, "items"):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ModelFileError(f"{where}: malformed dict item {pair!r}.")
                key = self.value(pair[0], where, depth + 1)
                try:
                    out[key] = self.value(pair[1], where, depth + 1)
                except TypeError as exc:  # unhashable key
                    raise ModelFileError(f"{where}: invalid dict key {key!r}.") from exc
            return out
        if kind == "float":
            if node.get("value") not in ("nan", "inf", "-inf"):
                raise ModelFileError(f"{where}: invalid float {node.get('value')!r}.")
            return float(node["value"])
        if kind == "ndarray":
            return self.array(node, where)
        if kind == "object_array":
            items = _list(node, "items")
            shape = _list(node, "shape")
            if not all(
                x is None or isinstance(x, str | bool | int | float) for x in items
            ):
                raise ModelFileError(
                    f"{where}: an object array holds non-plain values."
                )
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
            try:
                return arr.reshape(shape)
            except (TypeError, ValueError) as exc:
                raise ModelFileError(
                    f"{where}: invalid array shape {shape!r}."
                ) from exc
        if kind == "random_state":
            state = _list(node, "state")
            try:
                name, keys, pos, has_gauss, cached = state
                rs = np.random.RandomState()
                rs.set_state(
                    (name, self.array(keys, where), pos, has_gauss, float(cached))
                )
            except ModelFileError:
                raise
            except Exception as exc:
                raise ModelFileError(f"{where}: invalid random state.") from exc
            return rs
        if kind == "estimator":
            return self.estimator(node, where, depth + 1)
        if kind == "skops":
            return self.skops(node, where)
        raise ModelFileError(f"{where}: unknown value type {kind!r}.")

    def estimator(self, node: dict, where: str, depth: int):
        class_name = node.get("class")
        cls = self.whitelist.get(class_name)
        if cls is None:
            raise ModelFileError(
                f"{where} names the class {class_name!r}, which sklstm.load does not "
                f"create. Allowed: {', '.join(sorted(self.whitelist))}, and "
                "scikit-learn parts stored with skops. The file was not written by "
                "sklstm.save or was modified."
            )
        name = cls.__name__
        params = _dict(node, "params", where)
        valid = set(get_param_names(cls))
        unknown = sorted(set(params) - valid)
        if unknown:
            raise ModelFileError(
                f"{where}: {name} has no parameter {unknown[0]!r} in sklstm "
                f"{__version__}. The file was written by another sklstm version "
                "or was modified; install the version that wrote it."
            )
        params = {
            k: self.value(v, f"{name} parameter {k!r}", depth + 1)
            for k, v in params.items()
        }
        is_lstm = issubclass(cls, _BaseLSTM)
        if is_lstm:
            # parameters the writing version did not have: what it did
            params = {**added_parameters(cls), **params}
        if is_lstm and self.device_param is not None:
            params["device"] = self.device_param
        attrs = _dict(node, "attributes", where)
        try:
            est = cls(**params)
            if attrs:  # fit validated them: anything else is a modified file
                validate_params(est)
        except Exception as exc:
            raise ModelFileError(f"{where}: invalid {name} parameters: {exc}") from exc
        for key, v in attrs.items():
            if (
                not _ATTRIBUTE_NAME.fullmatch(key)
                or key in valid
                or hasattr(cls, key)
                or key == "net_"
            ):
                raise ModelFileError(
                    f"{where}: {key!r} is not an attribute the safe format sets."
                )
            setattr(est, key, self.value(v, f"{name} attribute {key!r}", depth + 1))
        if "language_net" in node:
            if cls is not LSTMLanguageModel:
                raise ModelFileError(f"{where}: a {name} has no language network.")
            _read_language_net(self, est, node["language_net"], where)
        elif cls is LSTMLanguageModel and "n_steps_" in attrs:
            raise ModelFileError(
                f"{where}: the fitted {name} has no network weights; the file is "
                "incomplete or was modified."
            )
        if "net" in node:
            if not is_lstm:
                raise ModelFileError(f"{where}: a {name} has no network.")
            _read_net(self, est, node["net"], where)
        elif is_lstm and "n_iter_" in attrs:
            raise ModelFileError(
                f"{where}: the fitted {name} has no network weights; the file is "
                "incomplete or was modified."
            )
        return est

    def skops(self, node: dict, where: str):
        data = self.entry(node.get("entry"), _SKOPS_ENTRY, where)
        try:
            import skops.io as sio
        except ImportError as exc:
            raise ImportError(
                f"{where} is a scikit-learn part ({node.get('class')}) stored with "
                "skops; install skops (pip install skops) to load this file."
            ) from exc
        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the scikit-learn part stored with skops is damaged ({exc})."
            ) from exc
        if untrusted:
            raise ModelFileError(
                f"{where}: the scikit-learn part stored with skops holds types that "
                f"are not trusted: {', '.join(untrusted)}. sklstm.load creates only "
                "the types skops trusts by default, so it refuses this file. If you "
                "trust its source, inspect it with skops.io.get_untrusted_types."
            )
        try:
            return sio.loads(data)
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the scikit-learn part stored with skops cannot be "
                f"loaded ({exc})."
            ) from exc


def load(path, *, device="cpu"):
    """Load a model saved by :func:`save`, without unpickling anything.

    Only sklstm's estimators and :class:`~sklearn.pipeline.Pipeline` are
    created from the file's description; scikit-learn parts are read with
    ``skops.io.loads`` trusting only the types skops trusts by default.
    Arrays are read with ``numpy.load(..., allow_pickle=False)``. Read more in
    :ref:`persistence`.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file written by :func:`save`.

    device : str or torch.device, default="cpu"
        Where the network weights go (``"cpu"``, ``"cuda"``, ``"auto"``...).
        The ``device`` parameter of every loaded LSTM estimator is set to this
        value, whatever device the model was trained on: a model trained on
        a GPU loads and predicts on a machine without one.

    Returns
    -------
    model : estimator
        The estimator or pipeline, fitted if it was fitted when saved.

    Raises
    ------
    ModelFileError
        A ``ValueError``: the file is not an sklstm model file, is truncated
        or damaged, was written by a newer format version, or describes a
        class outside the whitelist or types skops does not trust.

    ImportError
        If the file holds scikit-learn parts and skops is not installed.

    Warns
    -----
    InconsistentVersionWarning
        If the file was written by another sklstm version.

    See Also
    --------
    save : Save a model in this format.
    """
    if isinstance(device, str):
        resolved = resolve_device(device)
    elif isinstance(device, torch.device):
        resolved = device
    else:
        raise TypeError(
            f"device must be a str or torch.device, got {type(device).__name__}."
        )
    own = isinstance(path, str | bytes | os.PathLike)
    f = open(path, "rb") if own else path  # missing files raise FileNotFoundError
    try:
        return _load(f, resolved, device)
    finally:
        if own:
            f.close()


def _load(f, device, device_param):
    where = "the model file"
    with _open_zip(f) as zf:
        doc = _read_document(zf)
        root = doc.get("model")
        if not isinstance(root, dict) or root.get("type") not in ("estimator", "skops"):
            raise ModelFileError("The file describes no model.")
        saved = doc.get("sklstm_version")
        if saved != __version__:
            cls = root.get("class")
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=str(cls).rsplit(".", 1)[-1],
                    current_sklstm_version=__version__,
                    original_sklstm_version=saved,
                ),
                stacklevel=3,
            )
        reader = _Reader(zf, device, device_param)
        try:
            return reader.value(root, where)
        except _ZIP_ERRORS as exc:
            raise _damaged(exc) from exc
        except RecursionError as exc:
            raise ModelFileError("The model description is nested too deeply.") from exc
