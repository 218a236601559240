"""The export being served: its signatures, name, version and request limits, and the answers
to the status, metadata and ``:predict`` requests (JSON in the formats of the package docstring).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from textrec.export import card as card_module
from textrec.export.build import DEFAULT_NAME
from textrec.export.reload import load_export, version_folder
from textrec.export.server.batching import (DEFAULT_MAX_BATCH_ROWS, DEFAULT_WINDOW_MS,
                                            BatcherClosed, CallStats, QueueTimeout,
                                            RequestBatcher, check_options, plan_for)
from textrec.export.server.errors import RequestError
from textrec.export.server.request import (SERVER_LIMITS, _check_batch, _check_limits,
                                           _named_inputs, _request_format, _rows_to_columns,
                                           _to_array)
from textrec.export.server.response import _columns_response, _rows_response, plain_outputs
from textrec.export.server.warmup import Activity, EncoderWarmUp, check_mode

DEFAULT_SIGNATURE = "serving_default"
MAX_CONCURRENT = 2        # model calls at once; more requests wait for a free slot
QUEUE_TIMEOUT = 30.0      # seconds a request waits for a slot before a 503
BATCH_WINDOW_MS = DEFAULT_WINDOW_MS        # 0: no batching, one call per request
MAX_BATCH_ROWS = DEFAULT_MAX_BATCH_ROWS


def _signature_defs(path: Path) -> dict:
    """The SavedModel's signature defs (protos), read from ``saved_model.pb``."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    return dict(saved_model.meta_graphs[0].signature_def)


def _tensor_info_json(info) -> dict:
    """A TensorInfo proto as TF Serving's metadata JSON writes it."""
    shape = info.tensor_shape
    return {"dtype": types_pb2.DataType.Name(info.dtype),
            "tensor_shape": {"dim": [{"size": str(dim.size), "name": dim.name}
                                     for dim in shape.dim],
                             "unknown_rank": bool(shape.unknown_rank)},
            "name": info.name}


def default_model_name(path: Path, card: dict) -> str:
    """``textrec`` for ``.../textrec/1``; the card's name when the folder is not a version."""
    if path.name.isdigit():
        return path.parent.name
    return str(card.get("name") or DEFAULT_NAME)


class ServedModel:
    """An export loaded for serving: its signatures, name, version and request limits.

    Args:
      export_dir: ``<folder>/<name>`` (its newest version is served) or a version folder.
      model_name: the name in the URLs (default: see :func:`default_model_name`).
      max_concurrent: model calls that run at once; a request waits for a free slot at most
        ``queue_timeout`` seconds, then gets 503. With the per-request work limits
        (``limits``), one client cannot hold the model for long, nor all of it.
      batch_window_ms: requests of one signature arriving within this many milliseconds of
        the first are computed by one call (:mod:`textrec.export.server.batching`); 0: one
        call per request.
      max_batch_rows: the most rows one batched call gathers (a bigger request runs alone).
      warm_up: how the export's XLA encoder gets compiled (:mod:`textrec.export.server.warmup`):
        ``"background"`` (or True): serve at once, through TensorFlow's graph encoder until the
        shapes a call needs are compiled, one by one behind the requests; ``"first"``: compile
        every shape before serving; ``"none"`` (or False): each shape compiles on the first
        request that needs it. ``load_seconds`` and ``warm`` say what loading and warming took.
      prime_first: build each signature once before serving (the watcher does, before a swap,
        so that the first requests on a new version do not build them).
      announce: receives one line when the background compiling is done (None: silent).

    :meth:`close` stops the batching threads once the requests waiting for them are answered
    (the watcher closes a version it replaced); :meth:`stats` counts the calls made.
    """

    def __init__(self, export_dir, model_name: str | None = None, *,
                 max_concurrent: int = MAX_CONCURRENT, queue_timeout: float = QUEUE_TIMEOUT,
                 batch_window_ms: float = BATCH_WINDOW_MS,
                 max_batch_rows: int = MAX_BATCH_ROWS, warm_up="background",
                 prime_first: bool = False, announce=None):
        if int(max_concurrent) < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.batch_window_ms, self.max_batch_rows = check_options(batch_window_ms,
                                                                  max_batch_rows)
        self.path = version_folder(export_dir)
        self.card = card_module.read_card(self.path)
        self.name = model_name or default_model_name(self.path, self.card)
        self.version = int(self.path.name) if self.path.name.isdigit() else int(
            self.card.get("version", 1))
        self.limits = {**card_module.LIMITS, **SERVER_LIMITS, **self.card.get("limits", {})}
        self.max_concurrent, self.queue_timeout = int(max_concurrent), float(queue_timeout)
        warm_up = check_mode(warm_up)
        self.work_slots = threading.BoundedSemaphore(self.max_concurrent)
        started = time.perf_counter()
        self.loaded = load_export(self.path)
        self.load_seconds = time.perf_counter() - started
        self.signature_defs = _signature_defs(self.path)
        self._dtypes = {name: {key: tf.dtypes.as_dtype(info.dtype)
                               for key, info in self.signature_defs[name].inputs.items()}
                        for name in self.loaded.signatures}
        self.activity = Activity()
        self.warm_up = EncoderWarmUp(self.loaded, self.path, warm_up, run=self._run,
                                     activity=self.activity, announce=announce,
                                     name=f"{self.name} version {self.version}")
        self.warm_up.start(prime_first=prime_first)
        self.call_stats = CallStats()
        self.batcher = None
        if self.batch_window_ms > 0:
            plans = {name: plan_for(self.signature_defs[name]) for name in self.loaded.signatures}
            self.batcher = RequestBatcher(
                self._run, plans, self.work_slots, window_ms=self.batch_window_ms,
                max_batch_rows=self.max_batch_rows, workers=self.max_concurrent,
                stats=self.call_stats, name=f"textrec-batch-{self.name}-{self.version}")

    @property
    def warm(self) -> dict:
        """How the encoder's compiling goes (``EncoderWarmUp.status``), and ``skipped`` when
        it compiles on requests (``warm_up="none"``)."""
        return {**self.warm_up.status(), "skipped": self.warm_up.mode == "none"}

    def close(self, timeout: float = 0.0) -> bool:
        """Stop batching: the requests already waiting are computed, later ones run alone, the
        batching threads exit. Waits up to ``timeout`` seconds for them; True once they have.
        The encoder's compiling stops after the shape it is on."""
        self.warm_up.stop()
        if self.batcher is None:
            return True
        self.batcher.close()
        return self.batcher.join(timeout) if timeout > 0 else not self.batcher.alive

    def stats(self) -> dict:
        """Signature calls made so far (see :class:`~textrec.export.server.batching.CallStats`)
        and the requests waiting now for a batched call."""
        return {**self.call_stats.snapshot(), "batching": self.batcher is not None,
                "waiting": self.batcher.waiting if self.batcher is not None else 0}

    def inputs(self, signature: str) -> dict:
        """``{input name: (dtype, rank)}`` of a signature (400 when it does not exist)."""
        if signature not in self.loaded.signatures:   # (which leaves out __saved_model_init_op)
            raise RequestError(400, f"unknown signature_name {signature!r}; this model has "
                                    f"{sorted(self.loaded.signatures)}")
        return {name: (tf.dtypes.as_dtype(info.dtype), len(info.tensor_shape.dim))
                for name, info in self.signature_defs[signature].inputs.items()}

    def check_version(self, name: str, version: str | None) -> None:
        """404 unless the URL names this model (and, if any, this version)."""
        if name != self.name:
            raise RequestError(404, f"model {name!r} not found; this server serves {self.name!r}")
        if version is None:
            return
        # Compared as text: int() of a 5,000-digit string raises (Python's digit limit).
        digits = version.lstrip("0") or "0"
        if digits != str(self.version):
            shown = digits if len(digits) <= 20 else f"{digits[:20]}... ({len(digits):,} digits)"
            raise RequestError(404, f"version {shown} of model {name!r} not found; "
                                    f"available: [{self.version}]")

    def status(self) -> dict:
        return {"model_version_status": [{"version": str(self.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self) -> dict:
        def tensors(infos):
            return {key: _tensor_info_json(info) for key, info in sorted(infos.items())}

        signatures = {name: {"inputs": tensors(sd.inputs), "outputs": tensors(sd.outputs),
                             "method_name": sd.method_name}
                      for name, sd in sorted(self.signature_defs.items())}
        return {"model_spec": {"name": self.name, "signature_name": "",
                               "version": str(self.version)},
                "metadata": {"signature_def": {"signature_def": signatures}}}

    def predict(self, request: dict) -> dict:
        """A parsed ``:predict`` body -> the response body (raises :class:`RequestError`)."""
        signature = request.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature, str):
            raise RequestError(400, "'signature_name' must be a string")
        specs = self.inputs(signature)
        row_format = _request_format(request)
        columns = (_rows_to_columns(request["instances"], specs, signature) if row_format
                   else _named_inputs(request["inputs"], specs, signature))
        arrays = {name: _to_array(name, value, *specs[name], per_row=row_format)
                  for name, value in columns.items()}
        _check_batch(arrays)
        _check_limits(arrays, self.limits)
        outputs = self._call(signature, arrays)
        plain = plain_outputs(outputs)
        return _rows_response(plain) if row_format else _columns_response(plain)

    def _call(self, signature: str, arrays: dict) -> dict:
        """The signature's outputs (NumPy arrays) for one request's input arrays, computed in
        one of the ``max_concurrent`` slots, batched with other requests unless batching is off
        (503 when no slot takes it within ``queue_timeout`` seconds)."""
        try:
            if self.batcher is not None:
                try:
                    return self.batcher.compute(signature, arrays, timeout=self.queue_timeout)
                except BatcherClosed:     # replaced by a newer version meanwhile: run alone
                    pass
                except QueueTimeout:
                    raise self._busy() from None
            if not self.work_slots.acquire(timeout=self.queue_timeout):
                raise self._busy()
            try:
                self.call_stats.record(1, max(len(array) for array in arrays.values()))
                return self._run(signature, arrays)
            finally:
                self.work_slots.release()
        except tf.errors.InvalidArgumentError as error:
            raise RequestError(400, _graph_error(error.message)) from error

    def _run(self, signature: str, arrays: dict) -> dict:
        """One call of the signature: input arrays -> output arrays."""
        dtypes = self._dtypes[signature]
        with self.activity:
            outputs = self.loaded.signatures[signature](
                **{name: tf.constant(array, dtypes[name]) for name, array in arrays.items()})
            return {name: tensor.numpy() for name, tensor in outputs.items()}

    def _busy(self) -> RequestError:
        return RequestError(503, f"the server is busy: {self.max_concurrent} requests are "
                                 f"being computed and none finished within "
                                 f"{self.queue_timeout:g} s; retry later", {"Retry-After": "1"})


MAX_ERROR_CHARS = 300     # a refusal quoting a client's string is cut to this


def _graph_error(message: str) -> str:
    """The graph's own words of a failed ``tf.debugging`` assertion; otherwise the first line
    of TensorFlow's message without its node and op names (internal, and no help to a client).

    An assertion reads ``assertion failed: [message] [data] ...``. When the message ends with
    a colon its data are part of it (the rows or the item refused, which the export puts there,
    escaped onto one line); otherwise the data are TensorFlow's own (``Condition x <= y ...``).
    """
    assertion = re.search(r"assertion failed: \[(.*)", message)
    if assertion:
        line = assertion[1].rstrip()
        head, _, rest = line.partition("] [")
        if not rest:
            said = head.removesuffix("]")
        else:
            said = f"{head} [{rest}" if head.endswith(":") else head
        if len(said) > MAX_ERROR_CHARS:
            said = said[:MAX_ERROR_CHARS] + "..."
        return f"the model refused the request: {said}"
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"\{\{[^}]*\}\}|\[\[[^\]]*\]\]|\[Op:[^\]]*\]"
                   r"|\b(?:node|op)\s+'?[\w/.:-]+'?", "", first, flags=re.IGNORECASE)
    first = re.sub(r"\s+", " ", first).strip(" :;,.")
    return ("the model cannot compute this request (check the inputs' shapes and values)"
            + (f": {first}" if first else ""))
