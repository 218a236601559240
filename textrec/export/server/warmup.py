"""Compiling the export's XLA encoder behind the requests, so that a server answers at once.

XLA compiles the encoder for one input shape at a time, about a second a shape on a small CPU
(the export has one per bucket: 40 at 128 tokens). Compiling them all before serving made a
server's first answer wait for all of them. Instead, :class:`EncoderWarmUp` (one per served
version):

1. marks every shape not compiled (the export's ``reset_compiled``): a call whose shapes are not
   all compiled runs through TensorFlow's graph encoder, which needs no compiling per shape;
2. in a background thread, builds each signature once with a small request (the export's first
   warm-up record of each signature, ``textrec.export.warmup_requests``; ``prime_first=True``
   does this before the version serves, as the watcher does before a swap): TensorFlow builds
   a function the first time it runs, a second or so for each;
3. compiles the shapes one by one, one text before several and short before long
   (``compile_shape``); a request that needs only compiled shapes runs compiled from then on.
   After the first shape (one short text, the shape of the priming requests) it sends the
   priming requests again, which builds each signature's compiled path. Before each shape it
   waits for a moment without model calls (at most ``defer_seconds``), so that a compile and a
   request share the CPU as little as possible.

No request waits for the compiler, and each runs either compiled or through the graph. Modes
(:data:`MODES`): ``"background"`` (the above), ``"first"`` (compile every shape before
serving, as TF Serving does with the warm-up records) and ``"none"`` (each shape compiles on
the first request that needs it). An export without these functions (written before them) is
warmed up ``"first"`` in background mode.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import tensorflow as tf

MODES = ("background", "first", "none")
DEFER_SECONDS = 2.0     # the longest a compile waits for a moment without model calls


def check_mode(mode) -> str:
    """``True`` -> ``"background"``, ``False`` -> ``"none"``; ValueError for anything else than
    :data:`MODES`."""
    if mode is True:
        return "background"
    if mode is False or mode is None:
        return "none"
    if mode not in MODES:
        raise ValueError(f"warm_up must be one of {MODES} (or True/False), got {mode!r}")
    return mode


class Activity:
    """Model calls in flight, and a wait for a moment without any."""

    def __init__(self):
        self._changed = threading.Condition()
        self._running = 0

    def __enter__(self):
        with self._changed:
            self._running += 1
        return self

    def __exit__(self, *exc_info):
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    @property
    def running(self) -> int:
        with self._changed:
            return self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call runs, at most ``timeout`` seconds; True when none runs."""
        with self._changed:
            return self._changed.wait_for(lambda: self._running == 0, timeout)


def priming_requests(path) -> list[tuple[str, dict]]:
    """The first warm-up record of each signature of the export at ``path``: ``(signature,
    {input: array})`` ([] when the export has no records)."""
    from textrec.export import warmup_requests

    if not (path / warmup_requests.WARMUP_FILE).is_file():
        return []
    first = {}
    for _, signature, inputs in warmup_requests.read_warmup_requests(path):
        first.setdefault(signature, inputs)
    return list(first.items())


class EncoderWarmUp:
    """The warm-up of one loaded version (see the module docstring).

    ``run(signature, arrays)`` makes one model call (the served model's own, so that it counts
    as activity); ``announce`` receives one line when the background compiling is done.
    :meth:`status` says how far it is.
    """

    def __init__(self, loaded, path, mode="background", *, run=None, activity=None,
                 announce=None, defer_seconds: float = DEFER_SECONDS, name: str = "textrec"):
        self.loaded, self.path, self.mode = loaded, path, check_mode(mode)
        self.run, self.activity = run, activity or Activity()
        self.announce = announce
        self.defer_seconds = float(defer_seconds)
        self.name = name
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = None
        self.shapes = np.zeros((0, 2), np.int32)
        self.compiled = 0
        self.primed: list[str] = []
        self._priming = None
        self.started = time.perf_counter()
        self.seconds = 0.0
        self.error: BaseException | None = None
        self._incremental = all(callable(getattr(loaded, attribute, None)) for attribute in
                                ("encoder_shapes", "compile_shape", "reset_compiled"))
        if self.mode == "background" and not self._incremental:
            self.mode = "first"       # an export written before compile_shape existed

    # -- starting -------------------------------------------------------------------------------

    def start(self, prime_first: bool = False) -> "EncoderWarmUp":
        """Begin: ``"first"`` compiles everything now; ``"background"`` resets the shapes and
        starts the thread (priming the signatures first in this thread when ``prime_first``);
        ``"none"`` does nothing."""
        self.started = time.perf_counter()
        if self.mode == "none":
            self._done.set()
            return self
        if self.mode == "first":
            self._prime()
            compiled = self.loaded.warm_up()["shapes"].numpy() if callable(
                getattr(self.loaded, "warm_up", None)) else 0
            self.compiled = int(compiled)
            self.shapes = (self.loaded.encoder_shapes()["shapes"].numpy() if self._incremental
                           else np.zeros((self.compiled, 2), np.int32))
            self.seconds = time.perf_counter() - self.started
            self._done.set()
            return self
        found = self.loaded.encoder_shapes()
        self.shapes = found["shapes"].numpy()
        self.loaded.reset_compiled()
        if prime_first:
            self._prime()
        self._thread = threading.Thread(target=self._background, args=(not prime_first,),
                                        name=f"textrec-compile-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _prime(self, again: bool = False) -> None:
        """Build each signature once, with the export's own first warm-up record of it
        (``again``: once more, now that the compiled path is taken)."""
        if self.run is None:
            return
        if self._priming is None:
            self._priming = priming_requests(self.path)
        for signature, inputs in self._priming:
            if self._stop.is_set():
                return
            if signature in self.loaded.signatures:
                self.run(signature, inputs)
                if not again:
                    self.primed.append(signature)

    def _background(self, prime: bool) -> None:
        try:
            if prime:
                self._prime()
            for index in range(len(self.shapes)):
                self.activity.wait_idle(self.defer_seconds)
                if self._stop.is_set():
                    return
                self._compile(index)
                self.compiled += 1
                if index == 0:
                    # The priming requests need only this shape (one short text): now they
                    # build each signature's compiled path, before a client's request does.
                    self._prime(again=True)
            self.seconds = time.perf_counter() - self.started
            if self.announce is not None and len(self.shapes):
                self.announce(f"textrec serve: {self.name!r} encoder compiled for "
                              f"{len(self.shapes)} shapes in {self.seconds:.1f} s, behind the "
                              "requests; they all run compiled now")
        except Exception as error:  # noqa: BLE001  (requests keep the graph encoder then)
            self.error = error
            if self.announce is not None:
                self.announce(f"textrec serve: compiling the encoder stopped after "
                              f"{self.compiled} of {len(self.shapes)} shapes "
                              f"({type(error).__name__}: {error}); the other shapes run "
                              "through TensorFlow's graph")
        finally:
            self._done.set()

    def _compile(self, index: int) -> None:
        """Compile the shape ``index`` and mark it ready (the export's ``compile_shape``)."""
        self.loaded.compile_shape(tf.constant(index, tf.int32))

    # -- watching and stopping ------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the warm-up is over (done, failed or stopped); True when it is."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def stop(self, timeout: float = 0.0) -> None:
        """Compile no further shape (one being compiled finishes)."""
        self._stop.set()
        if self._thread is not None and timeout > 0:
            self._thread.join(timeout)

    def status(self) -> dict:
        """``mode``, ``shapes`` (how many the encoder has), ``compiled`` (how many are now),
        ``done``, ``seconds`` (from the start to the last compiled shape, once done) and
        ``primed`` (the signatures built before any request)."""
        return {"mode": self.mode, "shapes": int(len(self.shapes)), "compiled": self.compiled,
                "done": self.done, "seconds": self.seconds, "primed": list(self.primed)}
