"""Reading a ``:predict`` request: JSON (row or columnar format) -> NumPy arrays of the
signature's dtypes and ranks, with the checks this server adds (batch sizes, size limits, k).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import tensorflow as tf

from textrec.export.server.errors import RequestError

# Work limits per request, on top of the model card's shape limits (max_batch rows,
# max_texts_per_row, max_text_chars): the encoder's cost grows with the number of texts and
# their length, so a legal shape (256 rows x 32 texts) could cost minutes of CPU.
SERVER_LIMITS = {"max_texts_per_request": 256, "max_chars_per_request": 200_000}


def _request_format(request: dict) -> bool:
    """True for the row format ("instances"), False for the columnar one ("inputs")."""
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise RequestError(400, "the body must have exactly one of 'instances' (row format) "
                                "or 'inputs' (columnar format); it has "
                                f"{sorted(request) or 'neither'}")
    return has_instances


def _is_named(value) -> bool:
    """A JSON object of named inputs (not a ``{"b64": ...}`` string)."""
    return isinstance(value, dict) and not _is_b64(value)


def _is_b64(value) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"] and isinstance(value["b64"], str)


def _check_names(given, specs: dict, where: str) -> None:
    missing, unknown = sorted(set(specs) - set(given)), sorted(set(given) - set(specs))
    if missing or unknown:
        problems = ([f"missing input(s) {missing}"] if missing else []) + (
            [f"unknown input(s) {unknown}"] if unknown else [])
        raise RequestError(400, f"{where}: {' and '.join(problems)}; the inputs are "
                                f"{sorted(specs)}")


def _rows_to_columns(instances, specs: dict, signature: str) -> dict:
    """Row format -> ``{input name: [one value per row]}``."""
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, "'instances' must be a non-empty list, one item per row")
    named = _is_named(instances[0])
    if not named and len(specs) > 1:
        raise RequestError(400, f"'instances' holds plain values, but {signature!r} takes several "
                                f"inputs {sorted(specs)}: send one object per row")
    columns = {name: [] for name in specs}
    for row, instance in enumerate(instances):
        if _is_named(instance) != named:
            raise RequestError(400, f"instance {row} is {'not ' if named else ''}an object, unlike "
                                    "instance 0; all instances must have the same form")
        if named:
            _check_names(instance, specs, f"instance {row}")
            for name in specs:
                columns[name].append(instance[name])
        else:
            columns[next(iter(specs))].append(instance)
    return columns


def _named_inputs(inputs, specs: dict, signature: str) -> dict:
    """Columnar format -> ``{input name: nested list}``."""
    if _is_named(inputs):
        _check_names(inputs, specs, "'inputs'")
        return dict(inputs)
    if len(specs) > 1:
        raise RequestError(400, f"'inputs' is a plain value, but {signature!r} takes several "
                                f"inputs {sorted(specs)}: send an object of them")
    return {next(iter(specs)): inputs}


RANK_WORDS = ["a single value", "a list", "a list of lists"]


def _rank_words(rank: int) -> str:
    return RANK_WORDS[rank] if rank < len(RANK_WORDS) else f"lists nested {rank} deep"


def _rank_error(name: str, rank: int, got: int, per_row: bool) -> RequestError:
    """In the row format each instance holds one dimension less than the tensor."""
    where = "in each instance" if per_row else "in 'inputs'"
    return RequestError(400, f"input {name!r} {where} must be {_rank_words(rank - per_row)}, "
                             f"got {_rank_words(got - per_row)}")


def _dense_shape(name: str, value, rank: int, per_row: bool) -> list[int]:
    """The shape of a nested list, following first elements; an empty list is empty in every
    dimension. ``per_row``: ``value`` lists one instance's value per row."""
    shape, probe = [], value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    if shape == [0]:
        return [0] * rank
    if len(shape) != rank:
        raise _rank_error(name, rank, len(shape), per_row)
    return shape


def _leaves(name: str, value, shape: list[int]) -> list:
    """The values of a nested list of ``shape``, row-major (400 when it is ragged)."""
    leaves = []

    def walk(item, position):
        level = len(position)
        if level == len(shape):
            if isinstance(item, list):
                raise RequestError(400, f"input {name!r} at {position}: a list where a value "
                                        "belongs")
            leaves.append((position, item))
            return
        if not isinstance(item, list) or len(item) != shape[level]:
            raise RequestError(400, f"input {name!r} is ragged at {position}: expected a list of "
                                    f"{shape[level]} values, as in the first row (pad texts "
                                    "with \"\")")
        for index, child in enumerate(item):
            walk(child, position + [index])

    walk(value, [])
    return leaves


def _string_leaf(name, position, item) -> bytes:
    if _is_b64(item):
        try:
            return base64.b64decode(item["b64"], validate=True)
        except ValueError:
            raise RequestError(400, f"input {name!r} at {position}: invalid base64") from None
    if not isinstance(item, str):
        raise RequestError(400, f"input {name!r} at {position} must be a string, got "
                                f"{json.dumps(item)[:40]}")
    try:
        return item.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, f"input {name!r} at {position}: not valid Unicode") from None


def _number_leaf(name, position, item, dtype: tf.DType):
    whole = isinstance(item, int) and not isinstance(item, bool)
    if dtype.is_bool and isinstance(item, bool):
        return item
    if dtype.is_integer and whole and dtype.min <= item <= dtype.max:
        return item
    if dtype.is_floating and (whole or isinstance(item, float)):
        return item
    kind = f"{dtype.name} (a whole number)" if dtype.is_integer else dtype.name
    raise RequestError(400, f"input {name!r} at {position} must be {kind}, got "
                            f"{json.dumps(item)[:40]}")


def _to_array(name: str, value, dtype: tf.DType, rank: int, per_row: bool) -> np.ndarray:
    """A JSON input -> a NumPy array of the signature's dtype and rank (400 when it cannot be)."""
    shape = _dense_shape(name, value, rank, per_row)
    leaves = _leaves(name, value, shape)
    if dtype == tf.string:
        values = [_string_leaf(name, position, item) for position, item in leaves]
        return np.array(values, dtype=object).reshape(shape)
    values = [_number_leaf(name, position, item, dtype) for position, item in leaves]
    return np.array(values, dtype=dtype.as_numpy_dtype).reshape(shape)


def _check_batch(arrays: dict) -> None:
    sizes = {name: array.shape[0] if array.ndim else None for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        described = ", ".join(f"{name} {size}" for name, size in sorted(sizes.items()))
        raise RequestError(400, f"the inputs have different batch sizes ({described}); every "
                                "input needs one entry per row")


def _check_limits(arrays: dict, limits: dict) -> None:
    """400 for a request with no rows or no texts, 413 past the size and work limits, 400 for
    a k (or explain's n) outside [1, max_k]."""
    batched = [array.shape[0] for array in arrays.values() if array.ndim]
    if batched and min(batched) == 0:
        raise RequestError(400, "the request has no rows: send at least one")
    rows = max(batched, default=0)
    if rows > limits["max_batch"]:
        raise RequestError(413, f"{rows} rows in one request; the limit is {limits['max_batch']}")
    text = arrays.get("text")
    if text is not None and text.ndim == 2 and text.shape[1] == 0:
        raise RequestError(400, "input 'text' holds no text: give each row at least one (\"\" "
                                "for a row without text)")
    if text is not None and text.ndim == 2 and text.shape[1] > limits["max_texts_per_row"]:
        raise RequestError(413, f"{text.shape[1]} texts per row; the limit is "
                                f"{limits['max_texts_per_row']}")
    if text is not None:
        _check_text_lengths(text, limits["max_text_chars"])
        _check_work(text, limits)
    max_k = limits.get("max_k")
    for name in ("k", "n"):          # how many items (recommend_*) or history items (explain)
        k = arrays.get(name)
        if k is not None and max_k is not None and k.size and (k.min() < 1 or k.max() > max_k):
            row = int(np.flatnonzero((k < 1) | (k > max_k))[0])
            raise RequestError(400, f"{name} must be between 1 and max_k={max_k}; row {row} "
                                    f"asks for {int(k.flat[row])}")


def _check_text_lengths(text: np.ndarray, max_chars: int) -> None:
    for position, item in np.ndenumerate(text):
        # UTF-8 has at least one byte per character: only long byte strings need decoding.
        if len(item) > max_chars and len(item.decode("utf-8", "replace")) > max_chars:
            raise RequestError(413, f"the text at {list(position)} is longer than {max_chars:,} "
                                    "characters")


def _check_work(text: np.ndarray, limits: dict) -> None:
    """413 when the request's texts together are more work than one request may ask for."""
    shape = " x ".join(str(n) for n in text.shape)
    max_texts = limits.get("max_texts_per_request")
    if max_texts is not None and text.size > max_texts:
        raise RequestError(413, f"the request holds {text.size:,} texts ({shape}, padding "
                                f"included); the limit is {max_texts:,} texts per request: "
                                "split it into smaller requests")
    max_chars = limits.get("max_chars_per_request")
    if max_chars is None:
        return
    # UTF-8 has at least one byte per character: decode only when the bytes are over.
    if sum(len(item) for item in text.flat) > max_chars:
        chars = sum(len(item.decode("utf-8", "replace")) for item in text.flat)
        if chars > max_chars:
            raise RequestError(413, f"the request's texts hold {chars:,} characters together; "
                                    f"the limit is {max_chars:,} per request: split it into "
                                    "smaller requests")
