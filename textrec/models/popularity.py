"""Most popular: the baseline every recommender must beat, as full score matrices.

:func:`most_popular_scores` returns float arrays [number of users, number of items] for
:func:`textrec.evaluation.metrics.ranking_metrics` (which masks each user's train items);
:class:`MostPopular` is the same model with ``fit(X)`` / ``score(history)`` for the evaluation
harness. (A random ranking is a reference, not a model: ``textrec.evaluation.random_scores``.)
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


class MostPopular:
    """Most popular as a fitted model (``fit(X)``, ``score(history)``) for the evaluation
    harness: every user gets the items' interaction counts in ``X``, ties broken the same way
    as :func:`most_popular_scores` (lower item index first)."""

    name = "most popular"
    GRID: dict = {}

    def __init__(self):
        self.popularity = None

    def params(self) -> dict:
        return {}

    def fit(self, interactions) -> "MostPopular":
        """Counts of the binary ``interactions`` [n users, n items]."""
        counts = np.asarray((interactions > 0).sum(axis=0), dtype=float).ravel()
        self.popularity = counts - 1e-6 * np.arange(len(counts)) / max(len(counts), 1)
        return self

    def score(self, history) -> np.ndarray:
        """The popularity row repeated: float [n users, n items] (a broadcast view)."""
        if self.popularity is None:
            raise ValueError("MostPopular is not fitted yet: call fit(interactions) first")
        return np.broadcast_to(self.popularity, (history.shape[0], len(self.popularity)))
