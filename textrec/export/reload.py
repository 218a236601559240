"""Load an export back, call it from a clean process, and search it for what must not be in it.

* :func:`version_folder`: ``<folder>/<name>`` or a version folder -> the version folder (the
  newest version when several exist, as TF Serving does);
* :func:`load_export`: the reloaded SavedModel (tensorflow-text imported first, for its ops);
* :func:`call_signature`: one signature on NumPy-friendly inputs, NumPy outputs back;
* :func:`run_in_fresh_process`: the same requests in a new Python process that imports only
  TensorFlow and tensorflow-text (``textrec.export.standalone``), results back;
* :func:`find_strings`: which of some strings (review texts, raw user ids) occur in any file of
  the export, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np
import tensorflow as tf

from textrec.export import standalone

INPUT_DTYPES = standalone.DTYPES


def version_folder(path) -> Path:
    """The SavedModel folder: ``path`` itself if it holds ``saved_model.pb``, else its newest
    numeric version subfolder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted((int(p.name) for p in path.glob("*")
                       if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()))
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {path}: expected saved_model.pb there or in a "
                                "numbered version folder (<name>/1/saved_model.pb)")
    return path / str(versions[-1])


_LOADED: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def load_export(path, shared: bool = True):
    """The reloaded SavedModel of ``path`` (see :func:`version_folder`).

    ``shared``: while a loaded copy of the same version (same folder, same ``saved_model.pb``)
    is alive in this process, return it rather than load another: what XLA compiled for it
    (:func:`warm_up`) is then compiled for every user of the export, a notebook and the server
    it starts alike. A loaded export is read-only, so sharing it is safe.
    """
    import tensorflow_text  # noqa: F401  (registers FastBertTokenizer's ops before loading)

    folder = version_folder(path).resolve()
    key = (str(folder), (folder / "saved_model.pb").stat().st_mtime_ns)
    loaded = _LOADED.get(key) if shared else None
    if loaded is None:
        loaded = tf.saved_model.load(str(folder))
        if shared:
            _LOADED[key] = loaded
    return loaded


def warm_up(loaded) -> dict:
    """Compile a loaded export's XLA encoder on every bucket shape now (its ``warm_up``
    function), so that no request waits for XLA. Returns ``{"shapes": n, "seconds": s}``;
    ``shapes`` is 0 for an export whose encoder is not compiled (or that predates
    ``warm_up``)."""
    start = time.perf_counter()
    function = getattr(loaded, "warm_up", None)
    shapes = int(function()["shapes"].numpy()) if callable(function) else 0
    return {"shapes": shapes, "seconds": time.perf_counter() - start}


def _tensor_inputs(inputs: dict) -> dict:
    unknown = sorted(set(inputs) - set(INPUT_DTYPES))
    if unknown:
        raise ValueError(f"unknown inputs {unknown}; the signatures take {sorted(INPUT_DTYPES)}")
    return {name: tf.constant(value, INPUT_DTYPES[name]) for name, value in inputs.items()}


def call_signature(loaded, signature: str, **inputs) -> dict:
    """Call ``loaded.signatures[signature]`` with ``inputs`` (lists or arrays); returns NumPy
    arrays (strings decoded to ``str``)."""
    if signature not in loaded.signatures:
        raise ValueError(f"no signature {signature!r}; the export has {sorted(loaded.signatures)}")
    outputs = loaded.signatures[signature](**_tensor_inputs(inputs))
    result = {}
    for name, tensor in outputs.items():
        value = tensor.numpy()
        if value.dtype.kind in "SO":
            value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value) \
                if value.size else value.astype(object)
        result[name] = value
    return result


def run_in_fresh_process(path, requests: list[dict], timeout: float = 300) -> dict:
    """Run ``requests`` (``[{"signature": ..., "inputs": {...}}]``) against the export in a new
    Python process that imports only TensorFlow and tensorflow-text.

    Returns ``{"results": [{"outputs": ..., "seconds": ...}], "textrec_modules": [...]}``.
    """
    script = Path(standalone.__file__)
    with tempfile.TemporaryDirectory() as scratch:
        requests_file, out_file = Path(scratch) / "requests.json", Path(scratch) / "out.json"
        requests_file.write_text(json.dumps(requests))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        # -I: isolated mode; the script's folder (textrec/export) is not put first on sys.path
        # either, so `import textrec` would come only from site-packages, and nothing asks for it.
        completed = subprocess.run(
            [sys.executable, "-I", str(script), str(version_folder(path)), str(requests_file),
             str(out_file)], capture_output=True, text=True, timeout=timeout, env=env)
        if completed.returncode != 0:
            raise RuntimeError(f"the fresh process failed ({completed.returncode}):\n"
                               f"{completed.stderr[-3000:]}")
        return json.loads(out_file.read_text())


_TEXT_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{8,}")


def _ascii_segments(text: str) -> list[bytes]:
    return [part.encode() for part in re.split(r"[^\t\n\r\x20-\x7e]+", text) if part]


def find_strings(path, strings, min_length: int = 8) -> list[str]:
    """The ``strings`` (at least ``min_length`` characters; shorter ones are too common to mean
    anything) that occur in any file under ``path``, as UTF-8 bytes.

    Searching a 90 MB export for thousands of strings one by one takes minutes, so each file's
    runs of printable ASCII are collected first (random weights hold hardly any long run); a
    string can only be in the file if its longest ASCII stretch is in one of those runs, and
    only then is the file searched for its full bytes.
    """
    needles = sorted({s for s in (str(x) for x in strings) if len(s) >= min_length})
    found = set()
    for file in sorted(Path(path).rglob("*")):
        if not file.is_file():
            continue
        data = file.read_bytes()
        runs = b"\0".join(_TEXT_RUN.findall(data))
        for needle in needles:
            if needle in found:
                continue
            segments = _ascii_segments(needle)
            longest = max(segments, key=len) if segments else b""
            if len(longest) >= 8 and longest not in runs:
                continue
            if needle.encode("utf-8") in data:
                found.add(needle)
    return sorted(found)
