"""Explanations: why this item, told with the user's own words and the item's reviews.

For the text-only recommender the score is ``u . v``: ``u`` the unit weighted mean of the
user's review vectors ``r_k`` (weights ``w_k``), ``v`` the item's text vector. Before the
scaling to unit length, review k adds ``w_k r_k . v`` to the score, so an explanation cites:

* the user's review with the largest contribution ``w_k r_k . v`` ("you wrote ...");
* the item's review nearest to the user's interest vector ``u`` ("a reviewer of it wrote ...");
* the key phrases found both in the user's reviews and in the item's reviews (the candidate
  n-grams of :func:`textrec.interests.candidate_phrases`), ranked by their cosine to
  ``u + v`` when an embedder is given, else by how often they occur.

For item-to-item models (EASE, item-kNN: ``score(i) = sum over history j of W[j, i]``) the
history items with the largest ``W[j, i]`` are cited ("because you have ...").

An explanation is *faithful* when the evidence it cites carries the score: removing the cited
review (or history item) must lower the item's score more than removing a random one. The
measure is in :mod:`textrec.feedback.faithfulness`.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.interests import phrases as phrases_module
from textrec.interests.vectors import TextVectors


def contributions(vectors, weights, target) -> np.ndarray:
    """``w_k r_k . target`` for each review k: float [n reviews] from ``vectors`` [n, dim],
    ``weights`` [n] and ``target`` [dim]."""
    vectors = np.asarray(vectors, np.float32)
    weights = np.asarray(weights, np.float32)
    if vectors.ndim != 2 or len(weights) != len(vectors):
        raise ValueError(f"vectors must be [n, dim] with one weight each; got shape "
                         f"{vectors.shape} and {len(weights)} weights")
    return weights * (vectors @ np.asarray(target, np.float32))


def cited_review(vectors, weights, target) -> int:
    """The row whose contribution ``w_k r_k . target`` is largest (ties: the first); -1 when no
    row has a vector and a non-zero weight."""
    values = contributions(vectors, weights, target)
    usable = (np.linalg.norm(np.asarray(vectors, np.float32), axis=1) > 0) & (
        np.asarray(weights) != 0)
    if not usable.any():
        return -1
    return int(np.argmax(np.where(usable, values, -np.inf)))


def removal_drops(vectors, weights, target) -> np.ndarray:
    """How much ``cos(u, target)`` falls when review k is left out of ``u``, for each k:
    float [n]. ``u = normalize(sum_k w_k r_k)``; a vector that becomes zero scores 0."""
    vectors = np.asarray(vectors, np.float32)
    weighted = np.asarray(weights, np.float32)[:, None] * vectors
    target = np.asarray(target, np.float32)
    total = weighted.sum(axis=0)
    full = _cosine(total[None, :], target)[0]
    return full - _cosine(total[None, :] - weighted, target)


def _cosine(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1)
    dots = rows @ target
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 1e-6)


def history_contributions(history, weights, item: int) -> np.ndarray:
    """``W[j, item]`` for each history item j: what each adds to an item-to-item score
    ``history @ W``. ``history``: int item indices [n]; ``weights``: [n items, n items]."""
    history = np.asarray(history, np.int64)
    return np.asarray(weights)[history, int(item)].astype(np.float64)


def phrase_counts(texts) -> collections.Counter:
    """How often each candidate phrase (:func:`textrec.interests.candidate_phrases`) occurs in
    ``texts``."""
    counted = collections.Counter()
    for text in texts:
        counted.update(phrases_module.candidate_phrases(text if isinstance(text, str) else ""))
    return counted


def shared_phrases(user_texts, item_texts, top_n: int = 3, embedder=None, target=None
                   ) -> list[str]:
    """Key phrases that occur both in ``user_texts`` and in ``item_texts``, best first.

    With ``embedder`` and ``target`` (a unit vector [dim], e.g. ``u + v`` scaled) they are
    ranked by cosine to ``target``; otherwise by total count, then length, then alphabetically.
    """
    return rank_shared(phrase_counts(user_texts), phrase_counts(item_texts), top_n, embedder,
                       target)


def rank_shared(user_counts, item_counts, top_n: int = 3, embedder=None, target=None
                ) -> list[str]:
    """:func:`shared_phrases` from phrase counts (:func:`phrase_counts`)."""
    shared = sorted(user_counts.keys() & item_counts.keys())
    if not shared:
        return []
    if embedder is not None and target is not None:
        ranked = phrases_module.rank_phrases(target, shared, embedder.embed(shared), top_n)
        return [phrase for phrase, _ in ranked]
    shared.sort(key=lambda p: (-(user_counts[p] + item_counts[p]), -len(p), p))
    return shared[:top_n]


@dataclasses.dataclass
class ReviewIndex:
    """Reviews (one row each, schema columns) with their vectors [n, dim] and their weights in
    the interest vectors [n], and each user's and item's rows."""

    frame: pd.DataFrame
    vectors: np.ndarray
    weights: np.ndarray
    by_user: dict
    by_item: dict

    @classmethod
    def build(cls, reviews: pd.DataFrame, vectors, weights=None) -> "ReviewIndex":
        """Index ``reviews`` and their ``vectors`` [len(reviews), dim]; ``weights`` default 1
        (the "mean" interest vector)."""
        vectors = np.asarray(vectors, np.float32)
        if len(vectors) != len(reviews):
            raise ValueError(f"{len(reviews)} reviews but {len(vectors)} vectors: give one "
                             "vector per review, in the frame's order")
        weights = np.ones(len(reviews), np.float32) if weights is None else np.asarray(
            weights, np.float32)
        frame = reviews.reset_index(drop=True)
        return cls(frame, vectors, weights, _rows_by(frame, schema.USER),
                   _rows_by(frame, schema.ITEM))

    def __post_init__(self):
        self.authors = self.frame[schema.USER].to_numpy() if len(self.frame) else np.zeros(0)
        self.texts = (self.frame[schema.TEXT].to_numpy(object) if schema.TEXT in self.frame
                      else np.full(len(self.frame), "", object))
        self._phrases: dict = {}

    def phrases(self, rows, key=None) -> collections.Counter:
        """Candidate-phrase counts over the reviews ``rows``; with a ``key`` (e.g. ("user",
        id)) the counts are kept and returned again for the same key."""
        if key is not None and key in self._phrases:
            return self._phrases[key]
        total = phrase_counts(self.texts[np.asarray(rows, np.int64)])
        if key is not None:
            self._phrases[key] = total
        return total

    def user_rows(self, user_id) -> np.ndarray:
        return self.by_user.get(user_id, np.zeros(0, np.int64))

    def item_rows(self, item_id) -> np.ndarray:
        return self.by_item.get(item_id, np.zeros(0, np.int64))

    def text(self, row: int) -> str:
        return str(self.texts[row])


def _rows_by(frame: pd.DataFrame, column: str) -> dict:
    if frame.empty:
        return {}
    return {key: np.asarray(rows, np.int64) for key, rows in frame.groupby(column).indices.items()}


@dataclasses.dataclass
class Explanation:
    """The evidence for one recommendation; :meth:`sentence` reads it out."""

    user_id: str
    item_id: str
    score: float
    user_review: str | None = None
    user_review_cosine: float = float("nan")
    item_review: str | None = None
    item_review_cosine: float = float("nan")
    phrases: list = dataclasses.field(default_factory=list)
    history_items: list = dataclasses.field(default_factory=list)  # (item id, contribution)

    def sentence(self, limit: int = 120) -> str:
        """One readable paragraph."""
        parts = []
        if self.user_review:
            parts.append(f'you wrote "{_clip(self.user_review, limit)}"')
        if self.item_review:
            parts.append(f'a reviewer of it wrote "{_clip(self.item_review, limit)}"')
        if self.phrases:
            parts.append("you both mention " + ", ".join(f"'{p}'" for p in self.phrases))
        if self.history_items:
            parts.append("people who have " + ", ".join(i for i, _ in self.history_items)
                         + " (which you have) also have it")
        if not parts:
            return f"{self.item_id}: no evidence (the user has no history or text)"
        return f"{self.item_id}, because " + "; ".join(parts) + "."


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TextExplainer:
    """Explains the text-only recommender's recommendations from the reviews it was built on.

    Args:
      reviews: the :class:`ReviewIndex` of the reviews the interest vectors came from (train
        only: an explanation may not quote a held-out review).
      users, items: the model's :class:`TextVectors`.
      embedder: optional; ranks shared phrases by meaning (else by count).
    """

    def __init__(self, reviews: ReviewIndex, users: TextVectors, items: TextVectors,
                 embedder=None, n_phrases: int = 3):
        self.reviews, self.users, self.items = reviews, users, items
        self.embedder, self.n_phrases = embedder, n_phrases
        self._user_row, self._item_row = users.position(), items.position()

    def explain(self, user_id, item_id) -> Explanation:
        """The evidence for recommending ``item_id`` to ``user_id``."""
        if item_id not in self._item_row:
            raise ValueError(f"item {item_id!r} is not among the model's items")
        item_vector = self.items.vectors[self._item_row[item_id]]
        user_vector = (self.users.vectors[self._user_row[user_id]]
                       if user_id in self._user_row else np.zeros_like(item_vector))
        explanation = Explanation(str(user_id), str(item_id), float(user_vector @ item_vector))
        user_rows = self.reviews.user_rows(user_id)
        cited = cited_review(self.reviews.vectors[user_rows], self.reviews.weights[user_rows],
                             item_vector) if len(user_rows) else -1
        if cited >= 0:
            row = user_rows[cited]
            explanation.user_review = self.reviews.text(row)
            explanation.user_review_cosine = float(self.reviews.vectors[row] @ item_vector)
        all_item_rows = self.reviews.item_rows(item_id)
        item_rows = all_item_rows[self.reviews.authors[all_item_rows] != user_id]
        if len(item_rows) and np.any(user_vector):
            nearest = item_rows[int(np.argmax(self.reviews.vectors[item_rows] @ user_vector))]
            explanation.item_review = self.reviews.text(nearest)
            explanation.item_review_cosine = float(self.reviews.vectors[nearest] @ user_vector)
        if len(user_rows) and len(item_rows):
            target = user_vector + item_vector
            norm = np.linalg.norm(target)
            target = target / norm if norm > 0 else None
            others_only = len(item_rows) == len(all_item_rows)  # the user never reviewed it
            explanation.phrases = rank_shared(
                self.reviews.phrases(user_rows, ("user", user_id)),
                self.reviews.phrases(item_rows, ("item", item_id) if others_only else None),
                self.n_phrases, self.embedder, target)
        return explanation


class CollaborativeExplainer:
    """Explains an item-to-item model (``score = history @ weights``) by the history items that
    add most to the score.

    Args:
      weights: float [n items, n items] (e.g. ``EASE().fit(X).weights``).
      item_ids: [n items], the weights' item order.
    """

    def __init__(self, weights, item_ids):
        self.weights = np.asarray(weights)
        self.item_ids = np.asarray(item_ids, object)
        if self.weights.shape != (len(self.item_ids), len(self.item_ids)):
            raise ValueError(f"weights have shape {self.weights.shape}; expected "
                             f"{(len(self.item_ids), len(self.item_ids))} (items x items)")

    def explain(self, history, item: int, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` history items (int indices) with the largest positive ``W[j, item]``,
        as (item id, contribution) pairs, largest first."""
        history = np.asarray(history, np.int64)
        values = history_contributions(history, self.weights, item)
        order = np.argsort(-values, kind="stable")[:n]
        return [(str(self.item_ids[history[k]]), float(values[k])) for k in order
                if values[k] > 0]
