"""Request batching, as TensorFlow Serving batches: requests of one signature that arrive within
a short window are computed by ONE signature call on their rows together.

On a CPU the text encoder runs far more efficiently on a batch of texts than on many calls of one
text each, so eight clients sending one text each are served faster by one call of eight rows.

:class:`RequestBatcher` (one per served model) keeps a queue of validated requests (their input
arrays, each with a leading batch dimension) and ``workers`` threads. A worker waits for a
request, takes one of the model's call slots (``max_concurrent`` signature calls run at once),
then takes the oldest waiting request and, for up to ``window_ms`` milliseconds after that
request arrived, every request of the same signature that comes, until ``max_batch_rows`` rows
are gathered. It concatenates their rows (``text`` [B, T] padded with ``""`` to the largest T:
the export treats ``""`` as no text), makes one call and hands each request its own rows back,
with the outputs whose width is the call's ``max(k)`` (or ``max(n)``) cut to the request's own:
the answer is the one a call of that request alone gives (up to the last bits of a float, which
the CPU's kernels may round differently for another batch size).

If a batched call fails (a request the graph refuses, say k > max_k), its requests are run again
one at a time, so only the bad one gets the error. A request bigger than ``max_batch_rows`` runs
alone. A request not taken into a call within ``timeout`` seconds gives up (the server's 503).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time

import numpy as np
from tensorflow.core.framework import types_pb2

DEFAULT_WINDOW_MS = 2.0
DEFAULT_MAX_BATCH_ROWS = 64
# Inputs whose largest value is the width of the outputs with an unknown second dimension:
# recommend_* return [B, max(k)] item ids and scores; explain [B, max(n)] items and contributions.
WIDTH_INPUTS = ("k", "n")
# String inputs [B, T] whose rows may be padded with "" (the export reads "" as no text).
PADDED_INPUTS = ("text",)


class QueueTimeout(Exception):
    """The request was not taken into a call within its timeout."""


class BatcherClosed(Exception):
    """The batcher stopped taking requests (its model was replaced or the server stopped)."""


def check_options(window_ms, max_batch_rows) -> tuple[float, int]:
    """``(window_ms, max_batch_rows)`` as float and int; ValueError naming a bad one."""
    try:
        window = float(window_ms)
    except (TypeError, ValueError):
        raise ValueError(f"batch_window_ms must be a number of milliseconds, got "
                         f"{window_ms!r}") from None
    if not math.isfinite(window) or window < 0:
        raise ValueError(f"batch_window_ms must be 0 (no batching) or more milliseconds, got "
                         f"{window_ms!r}")
    if isinstance(max_batch_rows, bool) or not isinstance(max_batch_rows, (int, np.integer)) \
            or max_batch_rows < 1:
        raise ValueError(f"max_batch_rows must be a whole number of at least 1, got "
                         f"{max_batch_rows!r}")
    return window, int(max_batch_rows)


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """How the requests of one signature are put together and taken apart.

    ``batchable``: False when a request of it must always be computed alone. ``padded``: string
    inputs [B, T] padded with ``""`` to the batch's largest T. ``cut``: outputs [B, W, ...]
    whose W is the call's largest ``width_input`` value, cut to each request's own largest.
    """

    batchable: bool
    padded: frozenset = frozenset()
    cut: frozenset = frozenset()
    width_input: str | None = None


def plan_for(signature_def) -> BatchPlan:
    """The :class:`BatchPlan` of a signature, from its def's input and output shapes."""
    def dims(info):
        return None if info.tensor_shape.unknown_rank else [d.size for d in
                                                           info.tensor_shape.dim]

    inputs = {name: (info.dtype, dims(info)) for name, info in signature_def.inputs.items()}
    outputs = {name: dims(info) for name, info in signature_def.outputs.items()}
    if not inputs or not outputs or any(shape is None or not shape
                                        for _, shape in inputs.values()) \
            or any(shape is None or not shape for shape in outputs.values()):
        return BatchPlan(False)          # no batch dimension to put requests together along
    padded = frozenset(name for name, (dtype, shape) in inputs.items()
                       if name in PADDED_INPUTS and dtype == types_pb2.DT_STRING
                       and len(shape) == 2)
    integer = {types_pb2.DT_INT32, types_pb2.DT_INT64}
    width_input = next((name for name in WIDTH_INPUTS if name in inputs
                        and inputs[name][0] in integer and len(inputs[name][1]) == 1), None)
    cut = frozenset(name for name, shape in outputs.items() if len(shape) >= 2 and shape[1] < 0)
    if any(size < 0 for shape in outputs.values() for size in shape[2:]):
        return BatchPlan(False)          # a width that depends on the batch in an unknown way
    if cut and width_input is None:
        return BatchPlan(False)
    return BatchPlan(True, padded, cut, width_input)


@dataclasses.dataclass(eq=False)
class _Request:
    signature: str
    arrays: dict
    rows: int
    key: tuple | None                   # requests with equal keys may share a call
    arrived: float = dataclasses.field(default_factory=time.monotonic)
    taken: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: dict | None = None
    error: BaseException | None = None

    def finish(self, outputs=None, error=None) -> None:
        self.outputs, self.error = outputs, error
        self.done.set()


def _key(signature: str, arrays: dict, plan: BatchPlan | None):
    """What a request shares with those it may be batched with; None: it runs alone."""
    if plan is None or not plan.batchable or any(np.ndim(a) == 0 for a in arrays.values()):
        return None
    # Inputs other than the padded ones must agree beyond their batch dimension.
    return (signature, tuple(sorted((name, array.shape[1:]) for name, array in arrays.items()
                                    if name not in plan.padded)))


def _rows(arrays: dict) -> int:
    return max((a.shape[0] for a in arrays.values() if np.ndim(a)), default=0)


def concatenate(batch: list, plan: BatchPlan) -> dict:
    """The inputs of ``batch``'s requests as one call's, padded inputs padded with ``b""``."""
    joined = {}
    for name in batch[0].arrays:
        parts = [request.arrays[name] for request in batch]
        if name in plan.padded:
            width = max(part.shape[1] for part in parts)
            parts = [part if part.shape[1] == width else np.concatenate(
                [part, np.full((part.shape[0], width - part.shape[1]), b"", dtype=object)],
                axis=1) for part in parts]
        joined[name] = np.concatenate(parts, axis=0)
    return joined


class _CannotSplit(Exception):
    pass


def split(outputs: dict, batch: list, plan: BatchPlan) -> list[dict]:
    """Each request's rows of one call's ``outputs``, cut outputs cut to its own width."""
    total = sum(request.rows for request in batch)
    widths = [int(request.arrays[plan.width_input].max()) if plan.cut else None
              for request in batch]
    for name, array in outputs.items():
        if np.ndim(array) == 0 or array.shape[0] != total:
            raise _CannotSplit(f"output {name!r} has shape {np.shape(array)} for {total} rows")
        if name in plan.cut and array.shape[1] != max(widths):
            raise _CannotSplit(f"output {name!r} is {array.shape[1]} wide, not "
                               f"max({plan.width_input}) = {max(widths)}")
    answers, start = [], 0
    for request, width in zip(batch, widths):
        stop = start + request.rows
        answers.append({name: (array[start:stop, :width] if name in plan.cut
                               else array[start:stop]) for name, array in outputs.items()})
        start = stop
    return answers


class CallStats:
    """Counts of signature calls, thread-safe. ``requests`` sums the requests of each call (a
    request run again alone after its batch failed counts again); ``reruns`` counts batched
    calls that failed and were run again one request at a time."""

    FIELDS = ("calls", "requests", "rows", "largest_batch", "largest_rows", "reruns")

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.FIELDS, 0)

    def record(self, requests: int, rows: int) -> None:
        with self._lock:
            counts = self._counts
            counts["calls"] += 1
            counts["requests"] += requests
            counts["rows"] += rows
            counts["largest_batch"] = max(counts["largest_batch"], requests)
            counts["largest_rows"] = max(counts["largest_rows"], rows)

    def rerun(self) -> None:
        with self._lock:
            self._counts["reruns"] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._counts)


class RequestBatcher:
    """Puts concurrent requests of one signature into one call (see the module docstring).

    Args:
      run: ``run(signature, arrays) -> {output name: array}``, one signature call; it raises
        the graph's errors.
      plans: ``{signature: BatchPlan}``; a signature without a plan is never batched.
      slots: the model's call slots (a semaphore); a worker holds one during each call.
      window_ms: how long after the first request of a batch arrived more may join it.
      max_batch_rows: the most rows one call gathers (a bigger request runs alone).
      workers: threads forming and computing batches (the model's ``max_concurrent``).
      stats: a :class:`CallStats` to count into (default: a new one).
    """

    def __init__(self, run, plans: dict, slots, *, window_ms: float = DEFAULT_WINDOW_MS,
                 max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS, workers: int = 1,
                 stats: CallStats | None = None, name: str = "textrec-batch"):
        self.window_ms, self.max_batch_rows = check_options(window_ms, max_batch_rows)
        if int(workers) < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._run, self._plans, self._slots = run, dict(plans), slots
        self.stats = stats or CallStats()
        self._waiting: collections.deque[_Request] = collections.deque()
        self._changed = threading.Condition()
        self._forming = threading.Lock()      # one worker forms a batch at a time
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(int(workers))]
        for thread in self._threads:
            thread.start()

    # -- the requests' side ---------------------------------------------------------------------

    def compute(self, signature: str, arrays: dict, timeout: float | None = None) -> dict:
        """The outputs of one request (its own rows and widths). Raises :class:`QueueTimeout`
        when no call took it within ``timeout`` seconds, :class:`BatcherClosed` after
        :meth:`close`, and the call's own error when the graph refused it."""
        request = _Request(signature, arrays, _rows(arrays),
                           _key(signature, arrays, self._plans.get(signature)))
        with self._changed:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            self._waiting.append(request)
            self._changed.notify_all()
        if not request.taken.wait(timeout):
            with self._changed:
                if not request.taken.is_set():
                    self._waiting.remove(request)
                    raise QueueTimeout(f"not computed within {timeout:g} s")
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.outputs

    @property
    def waiting(self) -> int:
        """Requests waiting now to be taken into a call."""
        with self._changed:
            return len(self._waiting)

    # -- stopping -------------------------------------------------------------------------------

    def close(self) -> None:
        """Take no new request (:meth:`compute` raises :class:`BatcherClosed`); the workers
        compute the waiting ones, then exit."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the workers to exit (after :meth:`close`); True when all have."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.alive

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # -- the workers' side ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._forming:
                with self._changed:
                    while not self._waiting and not self._closed:
                        self._changed.wait()
                    if not self._waiting:       # closed, and nothing left to compute
                        return
                # Waiting here for a slot, the batch can grow: requests keep arriving.
                self._slots.acquire()
                batch = self._take()
            try:
                if batch:
                    self._compute(batch)
            finally:
                self._slots.release()

    def _take(self) -> list:
        """The oldest waiting request and those that may join it within the window."""
        with self._changed:
            if not self._waiting:               # they all gave up while the slots were busy
                return []
            first = self._waiting.popleft()
            first.taken.set()
            batch, rows = [first], first.rows
            if first.key is None:
                return batch
            deadline = first.arrived + self.window_ms / 1000.0
            while rows < self.max_batch_rows:
                for request in list(self._waiting):
                    if request.key == first.key and rows + request.rows <= self.max_batch_rows:
                        self._waiting.remove(request)
                        request.taken.set()
                        batch.append(request)
                        rows += request.rows
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed or rows >= self.max_batch_rows:
                    break
                self._changed.wait(remaining)
            return batch

    def _compute(self, batch: list) -> None:
        try:
            if len(batch) == 1:
                self._alone(batch[0])
                return
            plan = self._plans[batch[0].signature]
            arrays = concatenate(batch, plan)
            self.stats.record(len(batch), sum(request.rows for request in batch))
            try:
                answers = split(self._run(batch[0].signature, arrays), batch, plan)
            except Exception:
                # One bad request must not spoil the others: each runs alone, and only the
                # one the graph refuses gets its error.
                self.stats.rerun()
                for request in batch:
                    self._alone(request)
                return
            for request, outputs in zip(batch, answers):
                request.finish(outputs)
        except BaseException as error:          # never leave a request waiting forever
            for request in batch:
                if not request.done.is_set():
                    request.finish(error=error)

    def _alone(self, request: _Request) -> None:
        self.stats.record(1, request.rows)
        try:
            request.finish(self._run(request.signature, request.arrays))
        except Exception as error:
            request.finish(error=error)
