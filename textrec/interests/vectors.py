"""Interest vectors ``u = M(x)``: a user's reviews, embedded and averaged into one vector.

A user who writes "I record vocals at home" and "next I want a condenser mic" is telling us
what they want. Embed each of their TRAIN reviews with a sentence encoder, take a weighted
mean, scale it to unit length: that is their *interest vector*. An item gets a vector the same
way, from its description and its TRAIN reviews. A dot product of the two then scores how well
an item matches what a user writes about.

Weighting variants of :func:`review_weights` (``method``):

* ``"mean"``: every usable review counts the same;
* ``"recency"``: a review ``a`` days older than the user's latest TRAIN review weighs
  ``0.5 ** (a / half_life_days)`` (the reference is each user's own last review, so users who
  stopped writing years ago are not all equally faded);
* ``"sentiment"``: from ``p``, the probability that a review is positive, the confidence
  ``c = 2p - 1`` in [-1, 1]. A positive review (``c > 0``) weighs ``c``; a negative one weighs
  ``negative_weight * |c|``, where ``negative_weight <= 0``. The default 0 *ignores* what a user
  disliked, so a rant about a fuzz pedal does not pull fuzz pedals up their list; a value below
  0 pushes the vector away from it. A user with no positive weight at all gets no vector;
* ``"recency+sentiment"``: the product of the two.

Reviews with empty text have no vector (a zero row) and weigh nothing. Users or items left with
no usable text get a zero vector, flagged in ``TextVectors.empty`` and counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec.data import schema
from textrec.data.review_vectors import ReviewVectors, normalize_rows

METHODS = ("mean", "recency", "sentiment", "recency+sentiment")
DAY = 86_400
_EPSILON = 1e-9


@dataclasses.dataclass
class TextVectors:
    """Unit vectors of users or items, one row per id.

    ``ids``: array [n] of ids; ``vectors``: float32 [n, dim], unit rows or zeros;
    ``empty``: bool [n], True where there was no usable text (the row is zeros).
    """

    ids: np.ndarray
    vectors: np.ndarray
    empty: np.ndarray
    kind: str = "user"

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_empty(self) -> int:
        return int(self.empty.sum())

    def position(self) -> dict:
        """id -> row."""
        return {key: row for row, key in enumerate(self.ids)}

    def rows(self, ids) -> np.ndarray:
        """Vectors of ``ids`` [len(ids), dim]; unknown ids get zero rows."""
        position = self.position()
        out = np.zeros((len(ids), self.vectors.shape[1]), np.float32)
        for row, key in enumerate(ids):
            if key in position:
                out[row] = self.vectors[position[key]]
        return out

    def summary(self) -> str:
        return (f"{len(self):,} {self.kind}s x {self.vectors.shape[1]} dims; "
                f"{self.n_empty:,} without usable text (zero vectors)")


def embed_texts(embedder, texts) -> np.ndarray:
    """Vectors of ``texts`` [n, dim]; blank texts get a zero row instead of the encoder's
    vector of an empty string (which would look like a real, average opinion)."""
    texts = ["" if not isinstance(t, str) else t for t in texts]
    blank = np.array([not t.strip() for t in texts], bool)
    vectors = np.zeros((len(texts), embedder.dim), np.float32)
    if (~blank).any():
        vectors[~blank] = embedder.embed([t for t, b in zip(texts, blank) if not b])
    return vectors


def sentiment_weights(positive_probability, negative_weight: float = 0.0) -> np.ndarray:
    """Weights from P(positive): ``c = 2p - 1``; ``c`` when positive, else
    ``negative_weight * |c|`` (``negative_weight <= 0``)."""
    if negative_weight > 0:
        raise ValueError(f"negative_weight must be <= 0 (0 ignores negative reviews, < 0 pushes "
                         f"away from them), got {negative_weight}")
    p = np.asarray(positive_probability, float)
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise ValueError("positive_probability must lie in [0, 1]")
    confidence = 2.0 * p - 1.0
    return np.where(confidence > 0, confidence, negative_weight * np.abs(confidence))


def recency_weights(frame: pd.DataFrame, half_life_days: float) -> np.ndarray:
    """``0.5 ** (age / half_life_days)``, age in days before the user's latest review in
    ``frame``."""
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    time = frame[schema.TIMESTAMP].to_numpy(float)
    latest = frame.groupby(schema.USER)[schema.TIMESTAMP].transform("max").to_numpy(float)
    return 0.5 ** ((latest - time) / DAY / half_life_days)


def review_weights(frame: pd.DataFrame, method: str = "mean", half_life_days: float = 180.0,
                   positive_probability=None, negative_weight: float = 0.0) -> np.ndarray:
    """The weight of each review (row of ``frame``) in its user's interest vector; see the
    module docstring for the methods."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    weights = np.ones(len(frame))
    if "recency" in method:
        weights = weights * recency_weights(frame, half_life_days)
    if "sentiment" in method:
        if positive_probability is None or len(positive_probability) != len(frame):
            raise ValueError("the sentiment methods need positive_probability, one per review "
                             "(e.g. SentimentScorer.predict_proba(train texts))")
        weights = weights * sentiment_weights(positive_probability, negative_weight)
    return weights


def weighted_mean_vectors(keys, vectors: np.ndarray, weights: np.ndarray, ids=None,
                          kind: str = "user") -> TextVectors:
    """One unit vector per key: ``normalize(sum_i w_i x_i)`` over the rows of that key.

    Zero rows of ``vectors`` (no text) weigh nothing. A key whose positive weights sum to 0
    (no usable text, or only disliked text) gets a zero vector and ``empty=True``.
    """
    keys = np.asarray(keys, dtype=object)
    vectors = np.asarray(vectors, np.float32)
    if len(keys) != len(vectors) or len(keys) != len(weights):
        raise ValueError(f"{len(keys)} keys, {len(vectors)} vectors and {len(weights)} weights: "
                         "give one of each per review")
    ids = np.array(sorted(set(keys)), dtype=object) if ids is None else np.asarray(ids, object)
    position = {key: row for row, key in enumerate(ids)}
    rows = np.array([position.get(key, -1) for key in keys], np.int64)
    usable = (rows >= 0) & (np.linalg.norm(vectors, axis=1) > 0) & (np.asarray(weights) != 0)
    weights = np.where(usable, weights, 0.0)
    matrix = sp.csr_matrix((weights[usable], (rows[usable], np.flatnonzero(usable))),
                           shape=(len(ids), len(keys)))
    summed = np.asarray(matrix @ vectors, np.float32)
    positive = np.bincount(rows[usable], np.maximum(weights[usable], 0), minlength=len(ids))
    unit, empty = normalize_rows(summed)
    empty |= positive <= _EPSILON
    unit[empty] = 0.0
    return TextVectors(ids, unit, empty, kind)


def interest_vectors(train, review_vectors: np.ndarray | None = None, method: str = "mean",
                     half_life_days: float = 180.0, positive_probability=None,
                     negative_weight: float = 0.0, user_ids=None) -> TextVectors:
    """Users' interest vectors from their TRAIN reviews.

    Args:
      train: the train reviews (one row per review, schema columns), or a
        :class:`~textrec.data.review_vectors.ReviewVectors` holding them with their vectors.
      review_vectors: float array [len(train), dim], the vector of each row (zeros: no text);
        None when ``train`` is a ``ReviewVectors``.
      method, half_life_days, positive_probability, negative_weight: see :func:`review_weights`.
      user_ids: the users to return, in order (default: the sorted users of ``train``); users
        without train reviews get flagged zero vectors.

    Returns:
      :class:`TextVectors` of kind "user": ids, unit vectors [n users, dim], empty flags.
    """
    reviews = ReviewVectors.of(train, review_vectors)
    weights = review_weights(reviews.frame, method, half_life_days, positive_probability,
                             negative_weight)
    return weighted_mean_vectors(reviews.column(schema.USER), reviews.vectors, weights,
                                 ids=user_ids, kind="user")


def item_text_vectors(items: pd.DataFrame, train, review_vectors: np.ndarray | None = None,
                      description_vectors: np.ndarray | None = None,
                      description_weight: float = 1.0, review_weight: float = 1.0,
                      item_ids=None) -> TextVectors:
    """Items' text vectors: ``normalize(wd * d + wr * r)``, with ``d`` the unit vector of the
    item's description and ``r`` the unit mean of its TRAIN reviews' vectors.

    Args:
      items: the item frame (``schema.ITEM``; ``schema.DESCRIPTION`` may be empty).
      train: the train reviews; review_vectors: [len(train), dim] (or ``train`` a
        :class:`~textrec.data.review_vectors.ReviewVectors` and ``review_vectors`` None).
      description_vectors: [len(items), dim] aligned with ``items`` (zeros: no description),
        or None to use reviews only.
      description_weight, review_weight: ``wd`` and ``wr`` (>= 0). When one part is missing
        the other is used alone.
      item_ids: the items to return, in order (default: ``items`` then any train-only items).

    Items with neither part get a zero vector and ``empty=True``.
    """
    if description_weight < 0 or review_weight < 0:
        raise ValueError("description_weight and review_weight must be >= 0")
    reviews = ReviewVectors.of(train, review_vectors)
    if item_ids is None:
        known = list(items[schema.ITEM])
        extra = sorted(set(reviews.column(schema.ITEM)) - set(known))
        item_ids = np.array(known + extra, dtype=object)
    from_reviews = weighted_mean_vectors(reviews.column(schema.ITEM), reviews.vectors,
                                         np.ones(len(reviews)), ids=item_ids, kind="item")
    combined = review_weight * from_reviews.vectors
    if description_vectors is not None:
        if len(description_vectors) != len(items):
            raise ValueError("description_vectors must have one row per row of items")
        described, _ = normalize_rows(description_vectors)
        by_id = dict(zip(items[schema.ITEM], described))
        zero = np.zeros(combined.shape[1], np.float32)
        for row, key in enumerate(item_ids):
            combined[row] += description_weight * by_id.get(key, zero)
    unit, empty = normalize_rows(combined)
    return TextVectors(np.asarray(item_ids, object), unit, empty, "item")
