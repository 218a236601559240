"""Faithfulness of explanations: does the cited evidence carry the score?

For each recommended (user, item) pair, leave the cited evidence out and recompute the item's
score; do the same for a random piece of the same kind. The *faithfulness ratio* is

    mean over pairs of (score drop when the cited evidence is removed)
    / mean over pairs of (score drop when a random piece is removed),

above 1 when the citation points at what the model used. The random piece is drawn uniformly
from all of the pair's evidence (the cited one included), and its drop is taken as the exact
expectation over that draw, the mean drop over all pieces, so no sampling noise is added. The
interval resamples pairs (users) with replacement.

* text-only recommender: the evidence is the user's reviews; removing review k changes the
  interest vector to ``normalize(sum_{j != k} w_j r_j)`` (:func:`removal_drops`);
* item-to-item models: the evidence is the user's history items; removing item j lowers the
  score by exactly ``W[j, item]`` (the model is linear in the history).

A pair needs at least two pieces of evidence (with one, "random" and "cited" are the same);
pairs with fewer are skipped and counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from textrec.feedback import explain
from textrec.interests.vectors import TextVectors


@dataclasses.dataclass
class Faithfulness:
    """Per-pair score drops: ``cited`` and ``random`` (the expected drop of a random piece),
    float [n pairs]; ``skipped``: pairs with fewer than two pieces of evidence."""

    cited: np.ndarray
    random: np.ndarray
    skipped: int
    evidence: str

    @property
    def ratio(self) -> float:
        """mean(cited drops) / mean(random drops); NaN without pairs."""
        if len(self.cited) == 0:
            return float("nan")
        return float(self.cited.mean() / self.random.mean())

    def interval(self, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0
                 ) -> tuple[float, float]:
        """Percentile bootstrap interval of the ratio, resampling pairs."""
        if len(self.cited) == 0:
            return float("nan"), float("nan")
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(self.cited), size=(n_resamples, len(self.cited)))
        ratios = self.cited[draws].mean(axis=1) / self.random[draws].mean(axis=1)
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(ratios, [tail, 100 - tail])
        return float(low), float(high)

    def summary(self) -> dict:
        low, high = self.interval()
        return {"evidence": self.evidence, "pairs": int(len(self.cited)),
                "skipped": int(self.skipped), "mean cited drop": float(np.mean(self.cited))
                if len(self.cited) else float("nan"),
                "mean random drop": float(np.mean(self.random)) if len(self.random)
                else float("nan"),
                "ratio": self.ratio, "low": low, "high": high,
                "cited beats random": float(np.mean(self.cited > self.random))
                if len(self.cited) else float("nan")}


def text_faithfulness(reviews: explain.ReviewIndex, items: TextVectors, pairs) -> Faithfulness:
    """Faithfulness of the cited user review for (user id, item id) ``pairs`` of the text-only
    recommender whose interest vectors are the weighted means of ``reviews``."""
    item_row = items.position()
    cited, random, skipped = [], [], 0
    for user_id, item_id in pairs:
        rows = reviews.user_rows(user_id)
        usable = rows[(np.linalg.norm(reviews.vectors[rows], axis=1) > 0)
                      & (reviews.weights[rows] != 0)]
        if len(usable) < 2 or item_id not in item_row:
            skipped += 1
            continue
        target = items.vectors[item_row[item_id]]
        vectors, weights = reviews.vectors[usable], reviews.weights[usable]
        drops = explain.removal_drops(vectors, weights, target)
        cited.append(drops[explain.cited_review(vectors, weights, target)])
        random.append(drops.mean())
    return Faithfulness(np.asarray(cited, float), np.asarray(random, float), skipped,
                        "the user's review")


def collaborative_faithfulness(weights, history_rows, pairs) -> Faithfulness:
    """Faithfulness of the top cited history item for (user row, item index) ``pairs`` of an
    item-to-item model; ``history_rows`` holds each user's history item indices."""
    cited, random, skipped = [], [], 0
    for user, item in pairs:
        history = np.asarray(history_rows[user], np.int64)
        if len(history) < 2:
            skipped += 1
            continue
        drops = explain.history_contributions(history, weights, item)
        cited.append(drops.max())
        random.append(drops.mean())
    return Faithfulness(np.asarray(cited, float), np.asarray(random, float), skipped,
                        "the user's history item")
