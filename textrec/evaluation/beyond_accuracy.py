"""Beyond accuracy: what the top-k lists look like, whatever the targets.

All functions read ``top``, int [n users, k] of item indices best first (-1 marks an empty
slot, as from :func:`textrec.evaluation.metrics.topk_items`), and train popularity
``popularity``, float [n items] (the number of train users of each item).

* catalogue coverage: distinct recommended items / number of items;
* novelty (Zhou et al., 2010): mean self-information ``-log2 p(i)`` of the recommended items,
  with ``p(i) = popularity(i) / n_users`` the share of users who had the item (an item no
  train user had counts as one, so the value stays finite); higher = less obvious;
* popularity bias: mean popularity percentile of the recommended items, where an item's
  percentile is its popularity's average rank among all items scaled to [0, 100] (100: the
  most popular); about 50 for a random list, near 100 for most-popular;
* intra-list diversity: per user, ``1 - mean pairwise cosine`` of the item text vectors in
  the list, averaged over users with at least two items (an item without a vector has cosine 0
  with every other).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

BEYOND_NAMES = ("coverage", "novelty", "popularity_percentile", "diversity")
_BATCH_ELEMENTS = 2**23


def _slots(top) -> tuple[np.ndarray, np.ndarray]:
    top = np.asarray(top)
    if top.ndim != 2:
        raise ValueError(f"top must be a 2-D array [n users, k], got shape {top.shape}")
    return top, top >= 0


def catalogue_coverage(top, n_items: int) -> float:
    """Share of the ``n_items`` items that appear in at least one list."""
    top, valid = _slots(top)
    return float(np.unique(top[valid]).size / n_items) if n_items else 0.0


def novelty(top, popularity, n_users: int) -> float:
    """Mean ``-log2(max(popularity, 1) / n_users)`` over the filled slots."""
    top, valid = _slots(top)
    if not valid.any():
        return float("nan")
    share = np.maximum(np.asarray(popularity, dtype=float), 1.0) / max(n_users, 1)
    return float(np.mean(-np.log2(share[top[valid]])))


def popularity_percentiles(popularity) -> np.ndarray:
    """Each item's popularity percentile in [0, 100] (average rank for ties): float [n items]."""
    popularity = np.asarray(popularity, dtype=float)
    if popularity.size < 2:
        return np.full(popularity.size, 50.0)
    return (rankdata(popularity, method="average") - 1) / (popularity.size - 1) * 100


def popularity_bias(top, popularity) -> float:
    """Mean popularity percentile of the recommended items."""
    top, valid = _slots(top)
    if not valid.any():
        return float("nan")
    return float(popularity_percentiles(popularity)[top[valid]].mean())


def intra_list_diversity(top, item_vectors, per_user: bool = False):
    """Mean over users of ``1 - mean pairwise cosine`` of their list's item vectors
    ``item_vectors`` [n items, dim]; with ``per_user`` a float array [n users] (NaN for lists
    of fewer than two items)."""
    top, valid = _slots(top)
    vectors = np.asarray(item_vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    n_users, k = top.shape
    values = np.full(n_users, np.nan)
    step = max(1, _BATCH_ELEMENTS // max(k * unit.shape[1], 1))
    for start in range(0, n_users, step):
        rows, mask = top[start:start + step], valid[start:start + step]
        lists = unit[np.where(mask, rows, 0)] * mask[..., None]  # [batch, k, dim]
        gram = np.einsum("bkd,bld->bkl", lists, lists)
        off_diagonal = gram.sum(axis=(1, 2)) - np.einsum("bkk->b", gram)
        filled = mask.sum(axis=1)
        pairs = filled * (filled - 1)
        enough = pairs > 0
        values[start:start + step][enough] = 1.0 - off_diagonal[enough] / pairs[enough]
    if per_user:
        return values
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def beyond_accuracy(top, popularity, n_users: int, item_vectors=None) -> dict[str, float]:
    """Coverage, novelty, popularity percentile and (with ``item_vectors``) diversity of the
    lists in ``top``; ``n_users`` is the number of train users behind ``popularity``."""
    popularity = np.asarray(popularity, dtype=float)
    result = {"coverage": catalogue_coverage(top, popularity.size),
              "novelty": novelty(top, popularity, n_users),
              "popularity_percentile": popularity_bias(top, popularity)}
    if item_vectors is not None:
        result["diversity"] = intra_list_diversity(top, item_vectors)
    return result
