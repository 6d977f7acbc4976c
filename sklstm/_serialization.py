"""A pickle-free file format for sharing sklstm models: ``save`` and ``load``.

A model file is a zip archive holding

``model.json``
    The format version, the sklstm version, and a tree describing the model:
    for each estimator its class name, its hyperparameters (``get_params``),
    its fitted attributes (``classes_``, ``vocabulary_``, ``loss_curve_``, ...)
    and, for the LSTM estimators, the keyword arguments of the network.
``arrays/<i>.npy``
    NumPy arrays: network weights (``net_.module_.state_dict()``, copied to
    the CPU) and array-valued attributes. Read with ``allow_pickle=False``.
``skops/<i>.skops``
    scikit-learn parts of a pipeline (a ``MinMaxScaler``, ...), written with
    ``skops.io.dumps`` and read with ``skops.io.loads`` trusting only the
    types skops trusts by default.

Loading creates only the classes of a fixed whitelist (sklstm's estimators and
``sklearn.pipeline.Pipeline``; other scikit-learn parts through skops) and
runs no code from the file. Values the format cannot describe (a callable
tokenizer, a custom optimizer class, callbacks) are refused when saving, with
a message naming the parameter; pickle/joblib remains the way to store those.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import warnings
import zipfile
import zlib
from numbers import Integral

import numpy as np
import torch

from sklstm._base import _BaseLSTM
from sklstm._classifier import LSTMClassifier
from sklstm._compat import get_param_names, validate_params
from sklstm._module import SequenceNet
from sklstm._regressor import LSTMRegressor
from sklstm._runtime import resolve_device
from sklstm._text import TextSequencer
from sklstm._version import __version__
from sklstm.exceptions import InconsistentVersionWarning

__all__ = ["save", "load", "ModelFileError", "FORMAT_VERSION"]

#: version of the file layout written by :func:`save`; :func:`load` reads this
#: version and older ones
FORMAT_VERSION = 1
_FORMAT_NAME = "sklstm-model"
_MODEL_ENTRY = "model.json"
_ARRAY_ENTRY = re.compile(r"arrays/[0-9]{1,9}\.npy")
_SKOPS_ENTRY = re.compile(r"skops/[0-9]{1,9}\.skops")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9][A-Za-z0-9_]*")
# deepest nesting of values accepted on load (a pipeline in a pipeline in ...)
_MAX_DEPTH = 64
# the JSON description is small (hyperparameters, vocabulary); a larger one
# is not something save wrote
_MAX_JSON_BYTES = 1 << 30


class ModelFileError(ValueError):
    """A model file cannot be loaded safely.

    Raised by :func:`sklstm.load` when the file is not an sklstm model file,
    is truncated or corrupted, was written by a newer format version, or
    describes something the safe format does not create (a class outside the
    whitelist, an untrusted type inside a scikit-learn part, weights whose
    shapes do not fit the network). Nothing from such a file is executed.
    """


def _whitelist() -> dict:
    from sklearn.pipeline import Pipeline

    return {
        "sklstm.LSTMClassifier": LSTMClassifier,
        "sklstm.LSTMRegressor": LSTMRegressor,
        "sklstm.TextSequencer": TextSequencer,
        "sklearn.pipeline.Pipeline": Pipeline,
    }


def _class_name(cls) -> str:
    for name, known in _whitelist().items():
        if cls is known:
            return name
    return f"{cls.__module__}.{cls.__qualname__}"


# --------------------------------------------------------------------------- #
# saving
# --------------------------------------------------------------------------- #
class _Writer:
    """Turns a model into JSON-able nodes plus the binary entries they name."""

    def __init__(self, include_optimizer: bool = True):
        self.include_optimizer = include_optimizer
        self.arrays: list[tuple[str, np.ndarray]] = []
        self.blobs: list[tuple[str, bytes]] = []

    def array(self, arr: np.ndarray) -> dict:
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, arr))
        return {"type": "ndarray", "entry": name}

    def value(self, v, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise TypeError(f"{where} is nested too deeply to be saved.")
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, Integral):
            return int(v)
        if isinstance(v, float | np.floating):
            v = float(v)
            if math.isfinite(v):
                return v
            return {"type": "float", "value": repr(v)}  # "nan", "inf", "-inf"
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
        if isinstance(v, tuple):
            items = [self.value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
            return {"type": "tuple", "items": items}
        if isinstance(v, dict) and all(type(k) is str for k in v):
            return {
                "type": "map",
                "items": {
                    k: self.value(x, f"{where}[{k!r}]", depth + 1) for k, x in v.items()
                },
            }
        if isinstance(v, dict):
            items = [
                [
                    self.value(k, f"{where} key {k!r}", depth + 1),
                    self.value(x, f"{where}[{k!r}]", depth + 1),
                ]
                for k, x in v.items()
            ]
            return {"type": "dict", "items": items}
        if isinstance(v, np.ndarray):
            return self.ndarray(v, where)
        if isinstance(v, torch.Tensor):
            return {"type": "tensor", "array": self.array(_to_numpy(v, where))}
        if isinstance(v, torch.device):
            return str(v)
        if isinstance(v, np.random.RandomState):
            name, keys, pos, has_gauss, cached = v.get_state()
            return {
                "type": "random_state",
                "state": [name, self.array(keys), int(pos), int(has_gauss), cached],
            }
        from sklearn.base import BaseEstimator

        if isinstance(v, BaseEstimator):
            return self.estimator(v, where, depth + 1)
        raise TypeError(_unsupported(where, v))

    def ndarray(self, arr: np.ndarray, where: str) -> dict:
        if arr.dtype.kind in "biufcUS" and not arr.dtype.fields:
            return self.array(arr)
        if arr.dtype.kind == "O":
            flat = arr.ravel().tolist()
            if all(x is None or isinstance(x, str | bool | int | float) for x in flat):
                items = [self.value(x, where) for x in flat]
                return {
                    "type": "object_array",
                    "shape": list(arr.shape),
                    "items": items,
                }
        raise TypeError(_unsupported(where, arr))

    def estimator(self, est, where: str, depth: int) -> dict:
        cls = type(est)
        if cls not in _whitelist().values():
            if isinstance(est, _BaseLSTM | TextSequencer):
                raise TypeError(
                    f"{where} is a {cls.__qualname__}, a subclass of an sklstm "
                    "estimator; the safe format creates only sklstm's own classes "
                    "on load. Save it with joblib/pickle instead (load such files "
                    "only from sources you trust)."
                )
            return self.skops(est, where)
        name = cls.__name__
        params = est.get_params(deep=False)
        if params.get("accelerator") is not None:
            # as when pickled: an Accelerator is a handle on this process's
            # devices and process group, and the fitted network holds no
            # reference to it; the loaded estimator gets accelerator=None
            params = dict(params, accelerator=None)
        node = {
            "type": "estimator",
            "class": _class_name(cls),
            "params": {
                k: self.value(v, f"{name} parameter {k!r}", depth + 1)
                for k, v in params.items()
            },
        }
        attrs = {k: v for k, v in vars(est).items() if k not in params and k != "net_"}
        node["attributes"] = {
            k: self.value(v, f"{name} attribute {k!r}", depth + 1)
            for k, v in attrs.items()
        }
        if "net_" in vars(est):
            node["net"] = self.net(est)
        return node

    def net(self, est) -> dict:
        net = est.net_
        module_kwargs = net.get_params_for("module")
        name = type(est).__name__
        state = {
            key: self.array(_to_numpy(tensor, f"{name} network weight {key!r}"))
            for key, tensor in net.module_.state_dict().items()
        }
        kwargs = {
            k: self.value(v, f"{name} network argument {k!r}")
            for k, v in module_kwargs.items()
        }
        node = {
            "module_kwargs": kwargs,
            "state_dict": state,
            "history": self.value(list(net.history), f"{name} training history"),
        }
        if self.include_optimizer and getattr(net, "optimizer_", None) is not None:
            node["optimizer"] = self.value(
                net.optimizer_.state_dict(), f"{name} optimizer state"
            )
        return node

    def skops(self, est, where: str) -> dict:
        cls_name = f"{type(est).__module__}.{type(est).__qualname__}"
        inner = _sklstm_inside(est)
        if inner is not None:
            raise TypeError(
                f"{where} is a {type(est).__name__} holding a "
                f"{type(inner).__name__}. The safe format stores sklstm estimators "
                "on their own or inside a sklearn.pipeline.Pipeline only; save this "
                "model with joblib/pickle instead (load such files only from "
                "sources you trust)."
            )
        try:
            import skops.io as sio
        except ImportError as exc:
            raise ImportError(
                f"{where} is a {cls_name}, which sklstm.save stores with skops; "
                "install it (pip install skops), or save with joblib/pickle."
            ) from exc
        try:
            data = sio.dumps(est)
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # skops raises several types
            raise TypeError(
                f"{where} ({cls_name}) cannot be stored safely with skops: {exc}. "
                "Save this model with joblib/pickle instead (load such files only "
                "from sources you trust)."
            ) from exc
        if untrusted:
            raise TypeError(
                f"{where} ({cls_name}) holds objects of types that skops does not "
                f"trust by default: {', '.join(untrusted)}. sklstm.load would refuse "
                "them (a function, for example, could run any code), so they are "
                "not saved. Remove or replace that part (a FunctionTransformer "
                "with a function of your own, for example), or save with "
                "joblib/pickle instead."
            )
        entry = f"skops/{len(self.blobs)}.skops"
        self.blobs.append((entry, data))
        return {"type": "skops", "class": cls_name, "entry": entry}


def _to_numpy(tensor: torch.Tensor, where: str) -> np.ndarray:
    """A CPU NumPy copy of a tensor (from any device)."""
    try:
        return tensor.detach().cpu().numpy()
    except (TypeError, RuntimeError) as exc:
        raise TypeError(
            f"{where} is a tensor of dtype {tensor.dtype}, which NumPy cannot hold, "
            "so the safe format cannot store it. Cast the network to float32, or "
            "save with joblib/pickle."
        ) from exc


def _unsupported(where: str, v) -> str:
    what = type(v).__qualname__
    if isinstance(v, type):
        what = f"the class {v.__module__}.{v.__qualname__}"
    elif callable(v):
        what = f"the callable {getattr(v, '__qualname__', type(v).__qualname__)}"
    else:
        what = f"a {type(v).__module__}.{what} object"
    return (
        f"{where} is {what}, which the safe format cannot store: it keeps only "
        "plain values (numbers, strings, lists, dicts, arrays) and estimators. "
        "Use a built-in option instead (e.g. optimizer='adam', a token_pattern "
        "instead of a tokenizer function, no callbacks) before saving, or save "
        "with joblib/pickle, which stores anything but must only be loaded from "
        "sources you trust."
    )


def _sklstm_inside(est):
    """An sklstm estimator among the parameters of a foreign estimator, or None."""
    try:
        params = est.get_params(deep=True)
    except Exception:  # not a well-behaved estimator: skops decides
        return None
    for v in params.values():
        if isinstance(v, _BaseLSTM | TextSequencer):
            return v
    return None


def save(model, path, *, include_optimizer=True):
    """Save a model in sklstm's pickle-free file format.

    Stores :class:`~sklstm.LSTMClassifier`, :class:`~sklstm.LSTMRegressor`,
    :class:`~sklstm.TextSequencer` and :class:`~sklearn.pipeline.Pipeline`
    objects built from them and from scikit-learn parts (the latter through
    `skops <https://skops.readthedocs.io>`_), fitted or not. The file is a zip
    archive of JSON (hyperparameters, fitted attributes, versions) and NumPy
    ``.npy`` arrays (network weights, copied to the CPU); :func:`load` reads
    it without unpickling anything. Read more in :ref:`persistence`.

    The file is written atomically: into a temporary file in the same
    directory, flushed to disk, then renamed onto ``path``. An interrupted
    save leaves either no file or the previous one under ``path``.

    Parameters
    ----------
    model : estimator
        The estimator or pipeline to save.

    path : str or path-like
        Where to write the file, e.g. ``"model.sklstm"``. An existing file
        is replaced.

    include_optimizer : bool, default=True
        Also store the optimizer's state (Adam's moment estimates), so that
        training continued after loading (``warm_start=True`` or
        ``partial_fit``) picks up exactly where it stopped. False keeps only
        what prediction needs: with Adam the file is about a third of the size.
        The training history (``net_.history``) is stored either way.

    Raises
    ------
    TypeError
        If the model holds something the format cannot store safely: a
        callable ``tokenizer``, an ``optimizer`` class, callbacks, a
        scikit-learn part whose types skops does not trust (e.g. a
        ``FunctionTransformer`` with a function of your own), or an estimator
        other than ``Pipeline`` that contains an sklstm estimator. The message
        names the parameter; joblib/pickle can store these.

    ImportError
        If the model contains scikit-learn parts and skops is not installed.

    See Also
    --------
    load : Load a model saved by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> import sklstm
    >>> seq = sklstm.TextSequencer(min_frequency=1).fit(["good phone", "bad phone"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "seq.sklstm")
    ...     sklstm.save(seq, path)
    ...     sklstm.load(path).transform(["good phone"])
    array([[3, 2]], dtype=int32)
    """
    writer = _Writer(include_optimizer=bool(include_optimizer))
    root = writer.value(model, type(model).__name__)
    if not isinstance(root, dict) or root.get("type") not in ("estimator", "skops"):
        raise TypeError(
            f"sklstm.save stores estimators and pipelines, got a "
            f"{type(model).__name__}."
        )
    doc = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sklstm_version": __version__,
        "library_versions": _library_versions(),
        "model": root,
    }
    payload = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    _atomic_write(os.fsdecode(path), lambda f: _write_zip(f, payload, writer))


def _library_versions() -> dict:
    import sklearn
    import skorch

    return {
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
    }


def _write_array(f, arr: np.ndarray) -> None:
    np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)


def _write_zip(f, payload: bytes, writer: _Writer) -> None:
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(_MODEL_ENTRY, payload, compress_type=zipfile.ZIP_DEFLATED)
        for name, arr in writer.arrays:
            # weights barely compress: store them, which keeps save and load fast
            with zf.open(name, "w", force_zip64=True) as entry:
                _write_array(entry, arr)
        for name, data in writer.blobs:
            zf.writestr(name, data)


def _atomic_write(path: str, write) -> None:
    """Call ``write(file)`` on a temporary file, then rename it onto ``path``."""
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path!r} is a directory; pass a file name such as "
            f"{os.path.join(path, 'model.sklstm')!r}."
        )
    directory, base = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            # os.open with mode 0o666 lets the umask decide the permissions, as
            # for a plain open(path, "wb")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        break
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot sync."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- #
# loading
# --------------------------------------------------------------------------- #
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
            _check_npy_size(data)
            arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
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
        if "net" in node:
            if not is_lstm:
                raise ModelFileError(f"{where}: a {name} has no network.")
            self.net(est, node["net"], where)
        elif is_lstm and "n_iter_" in attrs:
            raise ModelFileError(
                f"{where}: the fitted {name} has no network weights; the file is "
                "incomplete or was modified."
            )
        return est

    def net(self, est, node, where: str) -> None:
        if not isinstance(node, dict):
            raise ModelFileError(f"{where}: malformed network description.")
        name = type(est).__name__
        kwargs = {
            k: self.value(v, f"{name} network argument {k!r}")
            for k, v in _dict(node, "module_kwargs", where).items()
        }
        state_nodes = _dict(node, "state_dict", where)
        state = {
            k: self.array(v, f"{name} weight {k!r}") if isinstance(v, dict) else v
            for k, v in state_nodes.items()
        }
        # the shapes the arguments imply, computed on the meta device: no memory
        # is allocated for arguments that a modified file inflated
        try:
            with torch.device("meta"):
                expected = SequenceNet(**kwargs).state_dict()
        except Exception as exc:
            raise ModelFileError(
                f"{where}: invalid network arguments {kwargs!r} ({exc})."
            ) from exc
        if set(expected) != set(state):
            missing = sorted(set(expected) - set(state))
            extra = sorted(set(state) - set(expected))
            raise ModelFileError(
                f"{where}: the stored weights do not fit the network (missing "
                f"{missing}, unexpected {extra}); the file was modified."
            )
        for key, ref in expected.items():
            arr = state[key]
            if not isinstance(arr, np.ndarray) or tuple(arr.shape) != tuple(ref.shape):
                got = getattr(arr, "shape", arr)
                raise ModelFileError(
                    f"{where}: the weight {key!r} has shape {got}, but the network "
                    f"needs {tuple(ref.shape)}; the file was modified."
                )
            if arr.dtype.kind not in "biuf":
                raise ModelFileError(
                    f"{where}: the weight {key!r} has dtype {arr.dtype}."
                )
        n_outputs = kwargs.get("n_outputs")
        if getattr(est, "_n_outputs", n_outputs) != n_outputs:
            raise ModelFileError(
                f"{where}: the number of outputs of the network ({n_outputs}) does "
                "not match the fitted attributes; the file was modified."
            )
        try:
            with torch.random.fork_rng(devices=[]):  # leave the caller's RNG alone
                net = est._new_net(kwargs, device=self.device)
                net.initialize()
            net.module_.load_state_dict(
                {k: _to_tensor(a) for k, a in state.items()}, strict=True
            )
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the network cannot be rebuilt from the file ({exc})."
            ) from exc
        self.history(net, node.get("history", []), where)
        if "optimizer" in node:
            self.optimizer(net, node["optimizer"], where)
        net.module_.eval()
        # as after fit: no validation data or batch RNG travels with the model
        net.train_split = None
        net.iterator_train__random_state = None
        est.net_ = net

    def history(self, net, node, where: str) -> None:
        from skorch.history import History

        rows = self.value(node, f"{where}: training history")
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in rows
        ):
            raise ModelFileError(f"{where}: malformed training history.")
        net.history_ = History(rows)

    def optimizer(self, net, node, where: str) -> None:
        state = self.value(node, f"{where}: optimizer state")
        if (
            not isinstance(state, dict)
            or not isinstance(state.get("state"), dict)
            or not isinstance(state.get("param_groups"), list)
            or not all(isinstance(g, dict) for g in state["param_groups"])
        ):
            raise ModelFileError(f"{where}: malformed optimizer state.")
        optimizer = net.optimizer_
        params = [p for g in optimizer.param_groups for p in g["params"]]
        for idx, entry in state["state"].items():
            if not isinstance(idx, int) or not 0 <= idx < len(params):
                raise ModelFileError(f"{where}: optimizer state of unknown parameter.")
            if not isinstance(entry, dict):
                raise ModelFileError(f"{where}: malformed optimizer state.")
            for key, v in entry.items():
                if (
                    isinstance(v, torch.Tensor)
                    and v.numel() > 1  # not the step counter
                    and v.shape != params[idx].shape
                ):
                    raise ModelFileError(
                        f"{where}: the optimizer state {key!r} has shape "
                        f"{tuple(v.shape)}, but its weight has "
                        f"{tuple(params[idx].shape)}; the file was modified."
                    )
        # implementation switches follow the device loaded onto, not the saved one
        for saved, fresh in zip(state["param_groups"], optimizer.param_groups):
            for key in ("fused", "foreach", "capturable", "differentiable"):
                if key in fresh:
                    saved[key] = fresh[key]
        try:
            optimizer.load_state_dict(state)
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the optimizer state does not fit the network ({exc})."
            ) from exc

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


def _check_npy_size(data: bytes) -> None:
    """Refuse a ``.npy`` whose header promises more data than it holds.

    ``read_array`` allocates the array from the header before reading; a
    modified header must not make it allocate terabytes.
    """
    fmt = np.lib.format
    buf = io.BytesIO(data)
    version = fmt.read_magic(buf)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(buf)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(buf)
    else:
        raise ValueError(f".npy format version {version} is not one save writes")
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which only pickle can read")
    n_bytes = math.prod(shape) * dtype.itemsize
    if n_bytes != len(data) - buf.tell():
        raise ValueError(
            f"the header announces {n_bytes} bytes of data, the entry holds "
            f"{len(data) - buf.tell()}"
        )


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(
        np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
    )


def _node(node: dict, key: str, where: str) -> dict:
    v = node.get(key)
    if not isinstance(v, dict):
        raise ModelFileError(f"{where}: malformed {key!r}.")
    return v


def _list(node: dict, key: str) -> list:
    v = node.get(key)
    if not isinstance(v, list):
        raise ModelFileError(f"malformed model description: {key!r} is not a list.")
    return v


def _dict(node: dict, key: str, where: str) -> dict:
    v = node.get(key, {})
    if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
        raise ModelFileError(f"{where}: malformed {key!r}.")
    return v


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
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise ModelFileError(
            "This is not an sklstm model file (not a valid zip archive): it is "
            "truncated, corrupted, or was written by something else (joblib and "
            "pickle files are read with joblib.load, and only from trusted "
            "sources)."
        ) from exc
    with zf:
        try:
            info = zf.getinfo(_MODEL_ENTRY)
        except KeyError:
            raise ModelFileError(
                f"This zip archive has no {_MODEL_ENTRY!r}: it is not an sklstm "
                "model file, or it is incomplete."
            ) from None
        if info.file_size > _MAX_JSON_BYTES:
            raise ModelFileError(f"{_MODEL_ENTRY!r} is implausibly large.")
        for entry in zf.infolist():
            if entry.file_size > (16 << 20) and entry.file_size > 200 * max(
                entry.compress_size, 1
            ):
                raise ModelFileError(
                    f"The entry {entry.filename!r} unpacks to {entry.file_size} bytes "
                    f"from {entry.compress_size}: not something sklstm.save wrote."
                )
        try:
            doc = json.loads(zf.read(_MODEL_ENTRY).decode("utf-8"))
        except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
            raise ModelFileError(
                f"The model file is damaged ({exc}); it was truncated or modified."
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ModelFileError(
                f"{_MODEL_ENTRY!r} is not valid JSON ({exc}); the file was modified."
            ) from exc
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT_NAME:
            raise ModelFileError(
                f"{_MODEL_ENTRY!r} does not describe an sklstm model; this zip "
                "archive was not written by sklstm.save."
            )
        version = doc.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelFileError(f"Invalid format version {version!r}.")
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"This file has format version {version}, written by sklstm "
                f"{doc.get('sklstm_version')}; sklstm {__version__} reads format "
                f"versions up to {FORMAT_VERSION}. Upgrade sklstm to load it."
            )
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
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ModelFileError(
                f"The model file is damaged ({exc}); it was truncated or modified."
            ) from exc
        except RecursionError as exc:
            raise ModelFileError("The model description is nested too deeply.") from exc
