"""Writing the response: output arrays -> strict JSON.

TF Serving writes a non-finite float as the bare token ``-Infinity``, ``Infinity`` or ``NaN``,
which is not JSON: strict parsers (JavaScript's ``JSON.parse``, ``jq``, Go, Rust's serde)
reject the whole body. Here no body ever holds one. The export marks an empty slot (a position
past a row's own k or n, or past the items a row has) with item id ``""`` and score ``-inf``:
that score is written ``null``. Any other non-finite value would be a fault of the model, not of
the request, and is answered with a 500 naming the output, never sent.
"""

from __future__ import annotations

import base64
import json

import numpy as np

from textrec.export.server.errors import RequestError


def _json_values(name: str, array: np.ndarray, empty=None):
    """An output array -> nested lists of JSON-ready values (see the module docstring).
    ``empty``: bool array of ``array``'s shape, the empty slots whose ``-inf`` becomes None."""
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
        values = array.astype(str).astype(np.float64)
        finite = np.isfinite(values)
        if finite.all():
            return values.tolist()
        allowed = (values == -np.inf) & (empty if empty is not None else False)
        wrong = ~finite & ~allowed
        if wrong.any():
            position = [int(i) for i in np.argwhere(wrong)[0]]
            raise RequestError(500, f"the model returned {values[tuple(position)]} in output "
                                    f"{name!r} at {position}; JSON has no such number, so the "
                                    "answer is not sent (a fault of the model, not of the "
                                    "request)")
        values = values.astype(object)
        values[allowed] = None
        return values.tolist()
    return array.tolist()


def plain_outputs(outputs: dict) -> dict:
    """Every output array as JSON-ready nested lists. A float output's ``-inf`` at a position
    where an id output of the same shape holds ``""`` (an empty slot: ``scores`` beside
    ``item_ids``, ``contributions`` beside ``history_item_ids``) becomes None; any other
    non-finite value raises :class:`RequestError` 500."""
    empty_of = {}
    for array in outputs.values():
        if array.dtype.kind in "SO" and array.ndim >= 2:
            empty_of.setdefault(array.shape, np.zeros(array.shape, bool))
            empty_of[array.shape] |= (array == b"")
    return {name: _json_values(name, array, empty_of.get(array.shape))
            for name, array in outputs.items()}


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
    """Strict JSON (``allow_nan=False``): a non-finite float raises ValueError rather than
    reach a client as ``NaN`` or ``Infinity``."""
    return json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
