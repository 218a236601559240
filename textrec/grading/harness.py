"""The grader's side inside a student's kernel, once the notebook has run.

The grader sends this file's source text into the kernel (as a module under a random name; it
imports nothing of textrec) and then, per request, asks it to call one task function on inputs
the grader pickled into a file, and to write what the function returned, as data only (JSON
with raw NumPy buffers), to a file the grader chose. The verdict is computed in the grader's
process; nothing here decides a grade.

While a task's function is called, the package's own implementation of that task is blocked:
every function object whose code is the reference's (found with :mod:`gc`, so aliases and
copies imported earlier are found too) gets code that records the call and raises.
"""

import base64
import gc
import importlib
import json
import os
import pickle
import random
import sys
import types

USER_NS: dict = {}  # the notebook's namespace, set when the grader installs this module
STATE = {"task": None, "blocked": [], "calls": []}
_MESSAGE = ("textrec grading: the package's own {path} is the answer to this task, so it is "
            "unavailable while your function is graded; write the task yourself")


def record(path):
    STATE["calls"].append(path)


def _blocker_code(path, n_free):
    names = [f"_free{i}" for i in range(n_free)]
    lines = ["def _outer():"] + [f"    {name} = None" for name in names]
    lines.append("    def blocked(*args, **kwargs):")
    if names:
        lines.append("        (" + ", ".join(names) + ",)")
    lines += [f"        __import__('sys').modules[{__name__!r}].record({path!r})",
              f"        raise RuntimeError({_MESSAGE.format(path=path)!r})",
              "    return blocked"]
    namespace = {}
    exec("\n".join(lines), namespace)
    return namespace["_outer"]().__code__


def block(locations):
    """Block each reference: ``(path, file suffix, code name, first line)``."""
    for path, _, _, _ in locations:
        module = path.rsplit(".", 1)[0]
        while module:
            try:
                importlib.import_module(module)
                break
            except ImportError:
                module = module.rpartition(".")[0]
    wanted = {(name, line): (path, suffix) for path, suffix, name, line in locations}
    for obj in gc.get_objects():
        if not isinstance(obj, types.FunctionType):
            continue
        code = obj.__code__
        found = wanted.get((code.co_name, code.co_firstlineno))
        if found is None or not code.co_filename.replace(os.sep, "/").endswith(found[1]):
            continue
        try:
            obj.__code__ = _blocker_code(found[0], len(code.co_freevars))
            STATE["blocked"].append((obj, code))
        except (ValueError, TypeError):
            pass


def unblock():
    for obj, code in STATE["blocked"]:
        obj.__code__ = code
    STATE["blocked"] = []


def _random_state():
    numpy = sys.modules.get("numpy")
    state = random.getstate()
    if numpy is not None:
        kind, keys, position, has_gauss, gauss = numpy.random.get_state()
        return state, (kind, keys.tobytes(), position, has_gauss, gauss)
    return state, None


def _array(value, depth):
    kind = value.dtype.kind
    if kind in "biufc" and value.dtype.fields is None:
        return {"$": "array", "dtype": value.dtype.str, "shape": list(value.shape),
                "b64": base64.b64encode(value.tobytes()).decode()}
    if kind in "US":
        return {"$": "array", "dtype": kind, "shape": list(value.shape),
                "list": value.astype(str).ravel().tolist()}
    return {"$": "objects", "shape": list(value.shape),
            "items": [encode(item, depth + 1) for item in value.ravel().tolist()]}


def _module(value, folder, signatures):
    import tensorflow as tf

    found = {name: getattr(value, name, None) for name in signatures}
    out = {"$": "module", "type": type(value).__name__, "missing": [n for n, f in found.items()
                                                                    if f is None]}
    if out["missing"]:
        return out
    path = os.path.join(folder, f"module-{len(os.listdir(folder))}")
    try:
        tf.saved_model.save(value, path, signatures=found)
        out["path"] = path
    except (ValueError, TypeError) as error:
        out["save_error"] = str(error)[:400]
    return out


def encode(value, depth=0):
    """``value`` as JSON-able data with type tags; nothing in it is code."""
    if depth > 40:
        raise ValueError("the result is nested too deeply")
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if value is None or isinstance(value, (bool, str)):
        return value
    if numpy is not None and isinstance(value, numpy.generic):
        if isinstance(value, numpy.bool_):
            return {"$": "npbool", "value": bool(value)}
        return _array(numpy.asarray(value), depth) | {"scalar": True}
    if isinstance(value, int):
        return {"$": "int", "value": str(int(value))}
    if isinstance(value, float):
        return {"$": "float", "value": repr(float(value))}
    if isinstance(value, bytes):
        return {"$": "bytes", "b64": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = {list: "list", tuple: "tuple"}.get(type(value), "set")
        if isinstance(value, (set, frozenset)):
            value = list(value)
        return {"$": kind, "items": [encode(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"$": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)]
                                       for k, v in value.items()]}
    if numpy is not None and isinstance(value, numpy.ndarray):
        return _array(value, depth)
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return {"$": "frame", "columns": [encode(c, depth + 1) for c in value.columns],
                "data": [_array(value.iloc[:, i].to_numpy(), depth)
                         for i in range(value.shape[1])],
                "index": _array(value.index.to_numpy(), depth)}
    if pandas is not None and isinstance(value, pandas.Series):
        return {"$": "series", "name": encode(value.name, depth + 1),
                "data": _array(value.to_numpy(), depth), "index": _array(value.index.to_numpy(),
                                                                          depth)}
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)) and numpy is not None:
        return _array(numpy.asarray(value.numpy()), depth)
    if tf is not None and isinstance(value, tf.Module) and STATE.get("signatures"):
        return _module(value, STATE["folder"], STATE["signatures"])
    return {"$": "other", "type": type(value).__name__, "repr": repr(value)[:200]}


def serve(request_path, response_path):
    """Answer one request of the grader (see the module docstring)."""
    with open(request_path, "rb") as handle:
        request = pickle.load(handle)
    if request["task"] != STATE["task"]:
        unblock()
        block(request["locations"])
        STATE["task"] = request["task"]
    STATE["signatures"], STATE["folder"] = request["signatures"], request["folder"]
    function = USER_NS.get(request["function"])
    response = {}
    if function is None:
        response["missing"] = True
    elif not callable(function):
        response["not_callable"] = type(function).__name__
    else:
        response["results"] = []
        for arguments in request["calls"]:
            STATE["calls"] = []
            before = _random_state()
            try:
                out = {"value": encode(function(*arguments))}
            except BaseException as error:  # noqa: BLE001 (reported to the grader as data)
                out = {"error": type(error).__name__, "message": str(error)[:500],
                       "not_implemented": isinstance(error, NotImplementedError)}
            out["blocked"] = sorted(set(STATE["calls"]))
            out["random_changed"] = _random_state() != before
            response["results"].append(out)
            if "error" in out and out["error"] in ("KeyboardInterrupt", "SystemExit"):
                break
    with open(response_path, "w", encoding="utf-8") as handle:
        json.dump(response, handle)
