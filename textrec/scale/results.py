"""The full-size measurements of lesson 11 (``benchmarks/scale_benchmark.py`` writes them to
``benchmarks/results/scale.json``), for the lesson to show beside what it measures itself."""

from __future__ import annotations

import json
from pathlib import Path

from textrec import config

RELATIVE = Path("benchmarks") / "results" / "scale.json"


def measured(path: str | Path | None = None) -> dict | None:
    """The benchmark's results, or None when there are none (e.g. on Colab, where the course is
    installed without its ``benchmarks/`` folder)."""
    root = config._checkout_root()
    path = Path(path) if path else (root / RELATIVE if root else None)
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text())
