"""Slices of users: who a model serves well, and who it does not.

An average hides the users text is meant to help. Two ways to cut them, both per user so the
per-user metrics and the bootstrap apply unchanged:

* by activity, the number of train interactions: ``cold`` (<= ``cold_max``, default 3),
  ``warm`` (up to ``warm_max``, default 10) and ``heavy`` (more);
* by the popularity of the held-out target: the target item's popularity percentile among all
  items (see :func:`textrec.evaluation.beyond_accuracy.popularity_percentiles`; with several
  targets, their median): ``tail`` (below ``tail_below``, default 50: the less popular half of
  the catalogue), ``head`` (from ``head_from``, default 80: the top fifth) and ``mid``.

:func:`activity_bins` groups users by train interactions for a curve of a metric against
activity.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from textrec.evaluation.beyond_accuracy import popularity_percentiles

ACTIVITY_SLICES = ("cold", "warm", "heavy")
POPULARITY_SLICES = ("tail", "mid", "head")
DEFAULT_ACTIVITY_EDGES = (1, 2, 3, 4, 6, 11, 21)


def activity_slices(train_counts, cold_max: int = 3, warm_max: int = 10) -> dict[str, np.ndarray]:
    """Boolean masks [n users] for ``cold`` (<= cold_max), ``warm`` and ``heavy`` (> warm_max)."""
    if not 0 <= cold_max < warm_max:
        raise ValueError(f"need 0 <= cold_max < warm_max, got {cold_max} and {warm_max}")
    counts = np.asarray(train_counts)
    return {"cold": counts <= cold_max,
            "warm": (counts > cold_max) & (counts <= warm_max),
            "heavy": counts > warm_max}


def target_popularity_percentile(targets, popularity) -> np.ndarray:
    """Median popularity percentile of each user's targets (binary CSR [n users, n items]):
    float [n users], NaN for users without a target."""
    targets = sp.csr_matrix(targets)
    percentile = popularity_percentiles(popularity)
    counts = np.diff(targets.indptr)
    out = np.full(targets.shape[0], np.nan)
    single = counts == 1
    out[single] = percentile[targets.indices[targets.indptr[:-1][single]]]
    for user in np.flatnonzero(counts > 1):  # only users with several targets (ratio splits)
        out[user] = np.median(
            percentile[targets.indices[targets.indptr[user]:targets.indptr[user + 1]]])
    return out


def popularity_slices(target_percentile, tail_below: float = 50.0,
                      head_from: float = 80.0) -> dict[str, np.ndarray]:
    """Boolean masks [n users] for ``tail``, ``mid`` and ``head`` targets (NaN: in none)."""
    if not 0 <= tail_below <= head_from <= 100:
        raise ValueError(f"need 0 <= tail_below <= head_from <= 100, got {tail_below}, {head_from}")
    p = np.asarray(target_percentile, dtype=float)
    known = ~np.isnan(p)
    safe = np.where(known, p, -1.0)
    return {"tail": known & (safe < tail_below),
            "mid": known & (safe >= tail_below) & (safe < head_from),
            "head": known & (safe >= head_from)}


def activity_bins(train_counts, edges=DEFAULT_ACTIVITY_EDGES) -> tuple[np.ndarray, list[str]]:
    """Bin index of each user [n users] (-1 below the first edge) and the bins' labels.

    ``edges`` are increasing lower bounds: with (1, 2, 3, 4, 6, 11, 21) the bins are 1, 2, 3,
    4-5, 6-10, 11-20 and 21+ train interactions.
    """
    edges = np.asarray(edges)
    if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be increasing, got {edges}")
    index = np.searchsorted(edges, np.asarray(train_counts), side="right") - 1
    labels = []
    for low, high in zip(edges, list(edges[1:]) + [None]):
        if high is None:
            labels.append(f"{low}+")
        elif high - low == 1:
            labels.append(f"{low}")
        else:
            labels.append(f"{low}-{high - 1}")
    return index, labels
