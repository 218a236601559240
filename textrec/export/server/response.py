"""Writing the response: output arrays -> JSON as TF Serving writes it."""

from __future__ import annotations

import base64
import json

import numpy as np

from textrec.export.server.errors import RequestError


def _json_values(name: str, array: np.ndarray):
    """An output array -> nested lists of JSON-ready values (see the package docstring)."""
    if array.dtype.kind in "SO":
        if name.endswith("_bytes"):
            def leaf(b):
                return {"b64": base64.b64encode(b).decode("ascii")}
        else:
            def leaf(b):
                return b.decode("utf-8", errors="replace")
        return np.vectorize(leaf, otypes=[object])(array).tolist() if array.size else \
            array.tolist()
    if array.dtype.kind == "f":
        # float32 -> its shortest decimal -> the float64 that prints as that decimal.
        return array.astype(str).astype(np.float64).tolist()
    return array.tolist()


def _rows_response(plain: dict) -> dict:
    batch_sizes = {len(value) if isinstance(value, list) else None for value in plain.values()}
    if len(batch_sizes) != 1 or None in batch_sizes:
        raise RequestError(400, "the outputs have no common batch dimension; use the columnar "
                                "format ('inputs')")
    rows = range(batch_sizes.pop())
    if len(plain) == 1:
        return {"predictions": next(iter(plain.values()))}
    return {"predictions": [{name: plain[name][row] for name in sorted(plain)} for row in rows]}


def _columns_response(plain: dict) -> dict:
    if len(plain) == 1:
        return {"outputs": next(iter(plain.values()))}
    return {"outputs": {name: plain[name] for name in sorted(plain)}}


def to_json(payload) -> bytes:
    """JSON as TF Serving writes it: ``-Infinity``, ``Infinity`` and ``NaN`` for non-finite
    floats. Python's ``json`` reads them back; strict parsers (JavaScript's ``JSON.parse``,
    ``jq``) reject them."""
    return json.dumps(payload, allow_nan=True, ensure_ascii=False).encode("utf-8")
