"""The sklstm model file: its layout, its limits, and getting bytes in and out.

This module knows the container that :func:`sklstm.save` writes and
:func:`sklstm.load` reads (``sklstm._save`` and ``sklstm._load`` turn models
into its description and back). A model file is a zip archive holding

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

Files are written atomically (a temporary file, flushed and renamed); on
reading, the archive, ``model.json`` and each ``.npy`` header are checked
against the sizes save writes before anything is unpacked.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import zipfile
import zlib

import numpy as np
import torch

from sklstm._classifier import LSTMClassifier
from sklstm._language_model import LSTMLanguageModel
from sklstm._regressor import LSTMRegressor
from sklstm._text import TextSequencer
from sklstm._version import __version__

__all__ = ["ModelFileError", "FORMAT_VERSION"]

#: version of the file layout written by :func:`sklstm.save`;
#: :func:`sklstm.load` reads this version and older ones
FORMAT_VERSION = 1
_FORMAT_NAME = "sklstm-model"
_MODEL_ENTRY = "model.json"
_ARRAY_ENTRY = re.compile(r"arrays/[0-9]{1,9}\.npy")
_SKOPS_ENTRY = re.compile(r"skops/[0-9]{1,9}\.skops")
# deepest nesting of values accepted on load (a pipeline in a pipeline in ...)
_MAX_DEPTH = 64
# the JSON description is small (hyperparameters, vocabulary); a larger one
# is not something save wrote
_MAX_JSON_BYTES = 1 << 30
# what zipfile raises on an archive that was truncated or modified
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


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
        "sklstm.LSTMLanguageModel": LSTMLanguageModel,
        "sklearn.pipeline.Pipeline": Pipeline,
    }


def _class_name(cls) -> str:
    for name, known in _whitelist().items():
        if cls is known:
            return name
    return f"{cls.__module__}.{cls.__qualname__}"


def _damaged(exc: Exception) -> ModelFileError:
    return ModelFileError(
        f"The model file is damaged ({exc}); it was truncated or modified."
    )


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def _write_model_file(
    path: str,
    model: dict,
    arrays: list[tuple[str, np.ndarray]],
    blobs: list[tuple[str, bytes]],
) -> None:
    """Write the description ``model`` and the entries it names to ``path``."""
    doc = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sklstm_version": __version__,
        "library_versions": _library_versions(),
        "model": model,
    }
    payload = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    _atomic_write(path, lambda f: _write_zip(f, payload, arrays, blobs))


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


def _write_zip(f, payload: bytes, arrays, blobs) -> None:
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(_MODEL_ENTRY, payload, compress_type=zipfile.ZIP_DEFLATED)
        for name, arr in arrays:
            # weights barely compress: store them, which keeps save and load fast
            with zf.open(name, "w", force_zip64=True) as entry:
                _write_array(entry, arr)
        for name, data in blobs:
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
# reading
# --------------------------------------------------------------------------- #
def _open_zip(f) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(f)
    except (*_ZIP_ERRORS, ValueError) as exc:
        raise ModelFileError(
            "This is not an sklstm model file (not a valid zip archive): it is "
            "truncated, corrupted, or was written by something else (joblib and "
            "pickle files are read with joblib.load, and only from trusted "
            "sources)."
        ) from exc


def _read_document(zf: zipfile.ZipFile) -> dict:
    """The parsed ``model.json`` of a format version this sklstm reads."""
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
    except (*_ZIP_ERRORS, UnicodeDecodeError) as exc:
        raise _damaged(exc) from exc
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
    return doc


def _read_array(data: bytes) -> np.ndarray:
    """The array of a ``.npy`` entry, read without unpickling anything."""
    _check_npy_size(data)
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


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
    """A tensor holding an array read from the file, in native byte order."""
    return torch.from_numpy(
        np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
    )


# the parts of a node of model.json: a missing or malformed one means that the
# file was modified
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
