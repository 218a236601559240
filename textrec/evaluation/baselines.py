"""Baselines every recommender must beat: most popular and random, as full score matrices.

Both return float arrays [number of users, number of items] for
:func:`textrec.evaluation.metrics.ranking_metrics` (which masks each user's train items).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec.data import schema


def item_popularity(train: pd.DataFrame, item_ids) -> np.ndarray:
    """Number of TRAIN interactions of each of ``item_ids``: float array [number of items]."""
    counts = train[schema.ITEM].value_counts()
    return counts.reindex(list(item_ids), fill_value=0).to_numpy(float)


def most_popular_scores(train: pd.DataFrame, item_ids, n_users: int) -> np.ndarray:
    """Every user gets the same scores: the items' TRAIN interaction counts, with a tiny
    decreasing term (1e-6 per position in ``item_ids``) so that ties break the same way for
    every user. Float array [n_users, number of items] (a broadcast view: do not write to it)."""
    popularity = item_popularity(train, item_ids)
    popularity = popularity - 1e-6 * np.arange(len(popularity)) / max(len(popularity), 1)
    return np.broadcast_to(popularity, (n_users, len(popularity)))


def random_scores(n_users: int, n_items: int, seed: int = 0) -> np.ndarray:
    """Uniform random scores [n_users, n_items]: the floor any model must clear."""
    return np.random.default_rng(seed).random((n_users, n_items))
