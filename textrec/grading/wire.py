"""The grader's half of talking to a student's kernel: inputs out (pickle, grader to kernel),
outputs back (tagged JSON, kernel to grader, decoded without running any code).

:func:`decode` rebuilds only plain data: numbers, strings, containers, NumPy arrays of numeric
dtypes, DataFrames and Series, a saved ``tf.Module`` (as a :class:`SavedModule` folder) and, for
anything else, an :class:`Opaque` that only remembers its type name and repr. Unpickling what a
kernel wrote would let the student run code in the grader; nothing here does.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import pickle
import re
import threading
from pathlib import Path

import numpy as np

MAX_RESPONSE_BYTES = 512 * 2**20
_RECIPES: dict[int, tuple] = {}  # id(object) -> (object, factory, args): rebuilt in the kernel
_LOCK = threading.Lock()


class KernelError(Exception):
    """The learner's function raised in the kernel; the class name is the original's."""


class Opaque:
    """A returned object the grader does not rebuild: its type name and repr only."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text


class SavedModule:
    """A ``tf.Module`` the kernel returned, saved there with its signatures (or why not)."""

    def __init__(self, type_name: str, path: str | None, missing: list[str],
                 save_error: str | None):
        self.type_name, self.path, self.missing, self.save_error = (
            type_name,
            path,
            missing,
            save_error,
        )

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def remote_as(obj, factory, *args, **kwargs):
    """Send ``obj`` into the kernel as ``factory(*args, **kwargs)`` (for objects that do not
    pickle, e.g. a TensorFlow tokenizer); returns ``obj``."""
    with _LOCK:
        _RECIPES[id(obj)] = (obj, functools.partial(factory, **kwargs), args)
    return obj


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        recipe = _RECIPES.get(id(obj))
        if recipe is not None and recipe[0] is obj:
            return recipe[1], recipe[2]
        if type(obj).__module__.startswith("tensorflow") and hasattr(obj, "numpy"):
            import tensorflow as tf

            if isinstance(obj, (tf.Tensor, tf.Variable)):
                return tf.constant, (obj.numpy(),)
        return NotImplemented


def dump_request(request: dict, path: Path) -> None:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=4).dump(request)
    Path(path).write_bytes(buffer.getvalue())


def _array(data: dict) -> np.ndarray:
    shape = tuple(int(n) for n in data["shape"])
    if "b64" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.hasobject:
            raise ValueError(f"unexpected dtype {data['dtype']!r}")
        array = np.frombuffer(base64.b64decode(data["b64"]), dtype=dtype).copy().reshape(shape)
    elif "list" in data:
        array = np.asarray([str(s) for s in data["list"]], dtype=str).reshape(shape)
    else:
        items = [decode(item) for item in data["items"]]
        array = np.empty(len(items), dtype=object)
        array[:] = items
        array = array.reshape(shape)
    return array[()] if data.get("scalar") else array


def decode(data):
    """The value the kernel encoded (see :func:`textrec.grading.harness.encode`)."""
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, list):  # not produced by the harness, but harmless
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        raise ValueError(f"unexpected {type(data).__name__} in a kernel's answer")
    kind = data.get("$")
    if kind == "int":
        return int(data["value"])
    if kind == "float":
        return float(data["value"])
    if kind == "npbool":
        return np.bool_(bool(data["value"]))
    if kind == "bytes":
        return base64.b64decode(data["b64"])
    if kind in ("list", "tuple", "set"):
        items = [decode(item) for item in data["items"]]
        return {"list": list, "tuple": tuple, "set": set}[kind](items)
    if kind == "dict":
        return {decode(key): decode(value) for key, value in data["items"]}
    if kind in ("array", "objects"):
        return _array(data)
    if kind == "frame":
        import pandas as pd

        columns = [decode(c) for c in data["columns"]]
        frame = pd.DataFrame({i: _array(col) for i, col in enumerate(data["data"])},
                             index=_array(data["index"]))
        frame.columns = columns
        return frame
    if kind == "series":
        import pandas as pd

        return pd.Series(
            _array(data["data"]), index=_array(data["index"]), name=decode(data["name"])
        )
    if kind == "module":
        return SavedModule(str(data["type"]), data.get("path"), list(data.get("missing", [])),
                           data.get("save_error"))
    if kind == "other":
        return Opaque(str(data["type"]), str(data["repr"]))
    raise ValueError(f"unexpected tag {kind!r} in a kernel's answer")


def read_response(path: Path) -> dict:
    path = Path(path)
    if path.stat().st_size > MAX_RESPONSE_BYTES:
        raise ValueError(f"the answer is over {MAX_RESPONSE_BYTES >> 20} MB")
    return json.loads(path.read_text(encoding="utf-8"))


def kernel_error(name: str, message: str) -> KernelError:
    """An exception named like the learner's (``ValueError: ...`` in hints)."""
    name = re.sub(r"\W", "", str(name))[:60] or "Exception"
    return type(name, (KernelError,), {})(str(message))
