"""The first text-only recommender: score = interest vector . item text vector.

No ids are learned: a user is what they wrote, an item is its description and what others
wrote about it, and both live in the encoder's space. That also serves a brand-new user:
:func:`recommend_for_text` ranks items for a typed request ("a quiet pedal for home practice").

Its score matrix is evaluated like every other model's, by
``textrec.evaluation.evaluate_scores`` (full ranking, the user's train items masked; on the
test split the validation item too).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from textrec import ranking
from textrec.data import schema
from textrec.interests import vectors as vectors_module
from textrec.interests.vectors import TextVectors


def text_scores(users: TextVectors, items: TextVectors, fallback=None) -> np.ndarray:
    """Cosine scores [number of users, number of items]: ``users.vectors @ items.vectors.T``.

    Users without a vector score every item 0 (an arbitrary ranking), unless ``fallback``
    (item scores [number of items], e.g. popularity) is given: then their rows are those
    scores. Items without a vector score 0.
    """
    scores = users.vectors @ items.vectors.T
    if fallback is not None and users.empty.any():
        scores[users.empty] = np.asarray(fallback, scores.dtype)[None, :]
    return scores


@dataclasses.dataclass
class TextOnlyRecommender:
    """User interest vectors and item text vectors, from TRAIN text only."""

    users: TextVectors
    items: TextVectors
    method: str = "mean"

    def scores(self, fallback=None) -> np.ndarray:
        """Scores [number of users, number of items]; see :func:`text_scores`."""
        return text_scores(self.users, self.items, fallback)

    def recommend(self, user_id, k: int = 10, exclude=()) -> pd.DataFrame:
        """Top ``k`` items for a known user, leaving out the ids in ``exclude``."""
        row = self.users.position()[user_id]
        return _top_items(self.users.vectors[row], self.items, k, exclude)


def fit_text_recommender(train: pd.DataFrame, items: pd.DataFrame, review_vectors: np.ndarray,
                         description_vectors: np.ndarray | None = None, method: str = "mean",
                         half_life_days: float = 180.0, positive_probability=None,
                         negative_weight: float = 0.0, description_weight: float = 1.0,
                         review_weight: float = 1.0, user_ids=None, item_ids=None
                         ) -> TextOnlyRecommender:
    """Interest vectors (``method``) and item text vectors from the TRAIN reviews only.

    ``review_vectors`` [len(train), dim] are the train reviews' vectors (e.g.
    ``embed_texts(embedder, train[TEXT])``); ``description_vectors`` [len(items), dim] the
    items' descriptions', or None. The other arguments are those of :func:`interest_vectors`
    and :func:`item_text_vectors`.
    """
    users = vectors_module.interest_vectors(train, review_vectors, method, half_life_days,
                                            positive_probability, negative_weight, user_ids)
    item_vectors = vectors_module.item_text_vectors(items, train, review_vectors,
                                                    description_vectors, description_weight,
                                                    review_weight, item_ids)
    return TextOnlyRecommender(users, item_vectors, method)


def embed_train_and_items(train: pd.DataFrame, items: pd.DataFrame, embedder):
    """(train review vectors [len(train), dim], description vectors [len(items), dim] or
    None when no item has a description). Blank texts give zero rows."""
    review_vectors = vectors_module.embed_texts(embedder, train[schema.TEXT].tolist())
    descriptions = items[schema.DESCRIPTION].fillna("") if schema.DESCRIPTION in items else None
    if descriptions is None or not descriptions.str.strip().any():
        return review_vectors, None
    return review_vectors, vectors_module.embed_texts(embedder, descriptions.tolist())


def _top_items(target: np.ndarray, items: TextVectors, k: int, exclude=()) -> pd.DataFrame:
    scores = items.vectors @ np.asarray(target, np.float32)
    scores = np.where(items.empty, -np.inf, scores)
    seen = [np.flatnonzero(np.isin(items.ids, list(exclude)))]
    order = ranking.topk_items(scores[np.newaxis, :], k, exclude=seen)[0]
    order = order[order >= 0]
    return pd.DataFrame({schema.ITEM: items.ids[order], "score": scores[order]})


def recommend_for_text(query: str, embedder, items: TextVectors, k: int = 10,
                       item_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cold start from words: the ``k`` items closest to the vector of ``query``.

    A new user with no history types what they want; their interest vector is the query's
    vector. Returns item_id and score (cosine), plus title and category when ``item_frame``
    is given.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty string, e.g. 'a quiet pedal for home practice'")
    top = _top_items(embedder.embed([query])[0], items, k)
    if item_frame is not None:
        columns = [c for c in (schema.TITLE, schema.CATEGORY) if c in item_frame]
        top = top.merge(item_frame[[schema.ITEM, *columns]], on=schema.ITEM, how="left")
    return top


def text_recommender_from_split(split, items: pd.DataFrame, embedder, method: str = "mean",
                                sentiment=None, **options) -> TextOnlyRecommender:
    """Embed, (for the sentiment methods) score sentiment, and fit, reading ``split.train`` only.

    ``sentiment``: a scorer with ``predict_proba(texts)``, or None to use
    :func:`load_sentiment_scorer` (fine-tuned when saved, else fitted on ``split.train``).
    ``options`` go to :func:`fit_text_recommender` (half_life_days, negative_weight,
    description_weight, review_weight). Validation and test reviews are never read: the
    held-out frames only matter to ``textrec.evaluation.evaluate_scores``.
    """
    from textrec.interests.sentiment import load_sentiment_scorer

    train = split.train
    review_vectors, description_vectors = embed_train_and_items(train, items, embedder)
    probability = None
    if "sentiment" in method:
        sentiment = sentiment or load_sentiment_scorer(train, embedder)
        probability = sentiment.predict_proba(train[schema.TEXT].tolist())
    return fit_text_recommender(train, items, review_vectors, description_vectors, method,
                                positive_probability=probability, **options)
