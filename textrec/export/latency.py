"""Timing helpers for serving: latency of single calls, throughput of batches, size on disk.

Pure Python and NumPy (no TensorFlow), so that the same code times any implementation, the
exported SavedModel or an alternative running in another environment:

    stats = time_calls(lambda text: serve([text]), inputs=texts, warmup=5)
    stats["median_ms"], stats["p95_ms"]
    throughput(lambda batch: serve(batch), 64, inputs=batches)    # items per second
    export_size_bytes("reports/export/textrec/1") / 1e6           # MB

What a figure includes is what ``function`` does: make it do what a client waits for
(build the inputs, call, bring the outputs back as NumPy). Eager TensorFlow on a CPU returns
finished tensors, but calling ``.numpy()`` on the outputs makes sure nothing is left pending.

Percentiles are NumPy's (linear interpolation between the nearest samples): the p95 of 200
calls lies between the 190th and 191st fastest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

def summarize(samples_ms) -> dict:
    """Statistics of call times in milliseconds: ``median_ms``, ``p95_ms``, ``mean_ms``,
    ``min_ms``, ``max_ms``, ``n`` and the samples themselves (``samples_ms``, a list), so that
    the samples of several runs can be pooled and summarised again."""
    samples = np.asarray(list(samples_ms), np.float64)
    if samples.size == 0:
        raise ValueError("no samples to summarise")
    if not np.all(np.isfinite(samples)) or np.any(samples < 0):
        raise ValueError("call times must be finite and non-negative")
    return {"median_ms": float(np.median(samples)), "p95_ms": float(np.percentile(samples, 95)),
            "mean_ms": float(samples.mean()), "min_ms": float(samples.min()),
            "max_ms": float(samples.max()), "n": int(samples.size),
            "samples_ms": samples.tolist()}


def _calls(function, n_calls, inputs):
    """``n_calls`` zero-argument callables: ``function(inputs[i % len(inputs)])``, or
    ``function()`` when ``inputs`` is None."""
    if inputs is None:
        if n_calls is None:
            raise ValueError("give n_calls, inputs, or both")
        return [function] * int(n_calls)
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs is empty")
    n_calls = len(inputs) if n_calls is None else int(n_calls)
    return [(lambda x=inputs[i % len(inputs)]: function(x)) for i in range(n_calls)]


def time_calls(function: Callable, n_calls: int | None = None, *,
               inputs: Sequence | None = None, warmup: int = 3,
               timer: Callable[[], float] = time.perf_counter) -> dict:
    """Time ``n_calls`` calls of ``function``, one at a time, after ``warmup`` untimed calls.

    Args:
      function: called as ``function()``, or ``function(x)`` for each ``x`` of ``inputs``.
      n_calls: how many timed calls (default: one per input; inputs are reused cyclically
        when ``n_calls`` is larger).
      inputs: what each call gets; the warm-up calls use the first inputs too.
      warmup: calls made before timing (first-call tracing, caches, thread pools).
      timer: a clock in seconds (for tests).

    Returns:
      :func:`summarize` of the call times (milliseconds).
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    calls = _calls(function, n_calls, inputs)
    if not calls:
        raise ValueError("n_calls must be at least 1")
    for call in _calls(function, warmup, inputs) if warmup else []:
        call()
    samples = []
    for call in calls:
        start = timer()
        call()
        samples.append(1000.0 * (timer() - start))
    return summarize(samples)


def items_per_second(stats: dict, n_items_per_call: int) -> float:
    """Throughput from :func:`time_calls` statistics of calls that each handle
    ``n_items_per_call`` items: all items over all the time (``n_items / mean seconds``)."""
    if n_items_per_call <= 0:
        raise ValueError(f"n_items_per_call must be positive, got {n_items_per_call}")
    mean_ms = stats["mean_ms"]
    return float("inf") if mean_ms == 0 else 1000.0 * n_items_per_call / mean_ms


def throughput(function: Callable, n_items_per_call: int, n_calls: int | None = None, *,
               inputs: Sequence | None = None, warmup: int = 1,
               timer: Callable[[], float] = time.perf_counter) -> float:
    """Items per second when ``function`` handles ``n_items_per_call`` items per call (a batch
    of queries), timed over ``n_calls`` calls after ``warmup`` (see :func:`time_calls`)."""
    stats = time_calls(function, n_calls, inputs=inputs, warmup=warmup, timer=timer)
    return items_per_second(stats, n_items_per_call)


def time_once(function: Callable, *args, timer: Callable[[], float] = time.perf_counter,
              **kwargs) -> tuple[object, float]:
    """``(function(*args, **kwargs), seconds it took)``: e.g. the time to load an export."""
    start = timer()
    result = function(*args, **kwargs)
    return result, timer() - start


def export_size_bytes(path) -> int:
    """Bytes on disk of an export: the sum of the sizes of every file under ``path`` (or of
    ``path`` itself when it is a file); links are not followed."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        raise FileNotFoundError(f"no file or folder at {path}")
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
