"""Serving the newest version without a restart, as TF Serving does with a model base path.

:class:`ModelWatcher` holds the :class:`ServedModel` being served. When the server was pointed
at ``<folder>/<name>`` (not at one version's folder), a background thread looks every
``poll_seconds`` for a newer version that is complete (its ``saved_model.pb`` and its model
card, which ``export_recommender`` writes last), loads it beside the current one, builds each
of its signatures once (with the export's warm-up records) and then swaps: requests already
running finish on the old version, the next ones get the new one, through TensorFlow's graph
encoder until its compiled shapes are ready (compiled behind the requests, as at start). A
version that fails to load is reported once and skipped; the current one keeps serving. The old
version is closed: its batching threads answer the requests waiting for them, then exit.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from textrec.export.card import CARD_JSON
from textrec.export.server.model import ServedModel

POLL_SECONDS = 2.0
STOP_TIMEOUT = 10.0   # seconds stop() waits for the batching threads to answer what waits


def warm_words(model: ServedModel) -> str:
    """How a served version's encoder gets compiled, in words."""
    warm = model.warm
    if warm["mode"] == "none":
        return "its encoder compiles each shape on the first request that needs it"
    if not warm["shapes"]:
        return "its encoder is not compiled (nothing to warm up)"
    if warm["mode"] == "first":
        return f"encoder compiled for {warm['shapes']} shapes in {warm['seconds']:.1f} s"
    return (f"its encoder's {warm['shapes']} shapes compile behind the requests, which run "
            "through TensorFlow's graph until the shapes they need are compiled")


def ready_versions(root: Path) -> list[int]:
    """The numbers of ``root``'s complete version folders (SavedModel and card), ascending."""
    return sorted(int(p.name) for p in root.glob("*")
                  if p.is_dir() and p.name.isdigit() and len(p.name) < 19
                  and (p / "saved_model.pb").is_file() and (p / CARD_JSON).is_file())


class ModelWatcher:
    """The model being served, and (unless pinned to one version) the thread that swaps in a
    newer version when one appears. ``log`` receives one line per swap or failed load."""

    def __init__(self, export_dir, model_name: str | None = None, *,
                 poll_seconds: float = POLL_SECONDS, log=None, **model_options):
        # model_options: ServedModel's (max_concurrent, warm_up, announce, ...)
        self.root = Path(export_dir)
        self.pinned = (self.root / "saved_model.pb").is_file()
        self.model_options = model_options
        self.current = ServedModel(export_dir, model_name, **model_options)
        self.name = self.current.name
        self.poll_seconds = float(poll_seconds)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.failed: set[int] = set()
        self._stop = threading.Event()
        self._thread = None
        if not self.pinned and self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._watch, name="textrec-watch", daemon=True)
            self._thread.start()

    def poll_once(self) -> bool:
        """Load and serve the newest complete version if it is newer than the current one;
        True when a swap happened."""
        if self.pinned:
            return False
        newer = [v for v in ready_versions(self.root)
                 if v > self.current.version and v not in self.failed]
        if not newer:
            return False
        version = newer[-1]
        try:
            model = ServedModel(self.root / str(version), self.name, prime_first=True,
                                **self.model_options)
        except Exception as error:  # a broken folder must not stop the serving one
            self.failed.add(version)
            self.log(f"textrec serve: version {version} of {self.name!r} failed to load "
                     f"({type(error).__name__}: {error}); still serving version "
                     f"{self.current.version}")
            return False
        previous_model, self.current = self.current, model
        previous = previous_model.version
        previous_model.close()   # its waiting requests are still answered
        self.log(f"textrec serve: now serving version {version} of {self.name!r} "
                 f"(was {previous}; loaded in {model.load_seconds:.1f} s; {warm_words(model)})")
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, 2 * self.poll_seconds))
        self.current.close(timeout=STOP_TIMEOUT)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except OSError as error:  # the folder vanished for a moment, say
                self.log(f"textrec serve: cannot read {self.root}: {error}")
