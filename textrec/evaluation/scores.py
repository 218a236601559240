"""Scoring a model's score matrix on a split: the evaluation every lesson calls.

The function lives in :mod:`textrec.interests.recommender` for now (it is moving here); this
thin wrapper gives it its evaluation name without an import cycle (``interests`` imports
``evaluation.metrics``).
"""

from __future__ import annotations

import numpy as np


def evaluate_scores(scores: np.ndarray, split, user_ids, item_ids, part: str = "validation",
                    ks=(10,)) -> dict:
    """Ranking metrics of ``scores`` [users, items] on ``part`` of ``split`` (full ranking,
    the user's train items masked)."""
    from textrec.interests.recommender import evaluate_scores as evaluate

    return evaluate(scores, split, user_ids, item_ids, part, ks)
