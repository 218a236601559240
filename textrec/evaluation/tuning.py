"""Choosing hyper-parameters on validation, never on test.

:func:`tune` fits a model for every point of a grid on TRAIN, scores the validation targets
(train items masked) and keeps the point with the best validation metric. Test is not read.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd

from textrec.evaluation.metrics import ranking_metrics


def parameter_grid(grid: dict | None) -> list[dict]:
    """Every combination of ``grid`` ({name: list of values}); ``[{}]`` for an empty grid."""
    if not grid:
        return [{}]
    names = list(grid)
    for name in names:
        if isinstance(grid[name], (str, bytes)) or not hasattr(grid[name], "__iter__"):
            raise ValueError(f"grid[{name!r}] must be a list of values, got {grid[name]!r}")
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def tune(factory, data, grid: dict | None, metric: str = "ndcg@10") -> tuple[dict, pd.DataFrame]:
    """Grid search on validation.

    Args:
      factory: called with one grid point as keyword arguments, returns a model with
        ``fit(X)`` and ``score(history)`` (e.g. ``EASE``).
      data: a :class:`textrec.evaluation.protocol.InteractionData`.
      grid: {parameter name: values}.
      metric: the validation metric to maximise, e.g. "ndcg@10".

    Returns:
      (best parameters, a frame with one row per grid point: its parameters, the validation
      metric and the seconds it took). Ties go to the earlier grid point.
    """
    k = int(metric.split("@")[1]) if "@" in metric else 10
    rows = []
    for params in parameter_grid(grid):
        start = time.perf_counter()
        model = factory(**params).fit(data.fit_matrix("train"))
        scores = model.score(data.history("validation"))
        value = ranking_metrics(scores, data.targets("validation"), data.exclude("validation"),
                                ks=(k,))[metric]
        rows.append({**params, f"validation {metric}": value,
                     "seconds": time.perf_counter() - start})
    table = pd.DataFrame(rows)
    best = int(np.argmax(table[f"validation {metric}"].to_numpy()))
    return parameter_grid(grid)[best], table
