"""The export's answers computed the long way, with the in-memory textrec objects.

Tests and notebook 08 compare the reloaded SavedModel with these: the same model, the Python
tokenizer and embedder, ``textrec.models.recommend`` for the top-k without seen items, and
``textrec.interests.interest_vectors`` for a user whose history gains new texts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec import interests, models, ranking
from textrec.data import schema
from textrec.models.towers import QUERY_VECTOR


def seen_items(seen: pd.DataFrame) -> ranking.SeenItems:
    """The seen items of an interactions frame (``textrec.ranking.SeenItems``)."""
    return ranking.SeenItems.from_frame(seen)


def _index(model, item_ids, k: int):
    vectors = models.candidate_embeddings(model.candidate_model, item_ids)
    return models.build_index(model.query_model, item_ids, vectors, k=k)


def recommend_user(model, item_ids, user_ids, k: int, seen: pd.DataFrame):
    """(scores [n, k], item ids [n, k]) for raw ``user_ids``, their ``seen`` items excluded."""
    index = _index(model, item_ids, k)
    return models.recommend(index, [str(u) for u in user_ids], k=k, exclude_seen=seen_items(seen))


def interest_vector(texts, embedder, user_id: str = "", train: pd.DataFrame | None = None,
                    review_vectors=None) -> np.ndarray:
    """The mean interest vector of ``user_id``'s train reviews plus ``texts`` (new reviews or a
    query), as ``interests.interest_vectors`` computes it: unit [dim], zeros without text."""
    frames, vectors = [], []
    if user_id and train is not None:
        own = (train[schema.USER].astype(str) == str(user_id)).to_numpy()
        frames.append(train.loc[own, [schema.USER]])
        vectors.append(np.asarray(review_vectors, np.float32)[own])
    texts = [t for t in texts if isinstance(t, str)]
    frames.append(pd.DataFrame({schema.USER: [str(user_id)] * len(texts)}))
    vectors.append(interests.embed_texts(embedder, texts) if texts
                   else np.zeros((0, embedder.dim), np.float32))
    frame = pd.concat(frames, ignore_index=True)
    frame[schema.USER] = frame[schema.USER].astype(str)
    stacked = np.concatenate(vectors)
    if len(frame) == 0:
        return np.zeros(embedder.dim, np.float32)
    result = interests.weighted_mean_vectors(frame[schema.USER].to_numpy(), stacked,
                                             np.ones(len(frame)), ids=[str(user_id)])
    return result.vectors[0]


def recommend_text(model, embedder, item_ids, rows, k: int, seen: pd.DataFrame,
                   train: pd.DataFrame, review_vectors):
    """(scores [n, k], item ids [n, k]) for ``rows``: a list of ``(raw user id or "", texts)``.

    A known user's train reviews and the texts make the interest vector; the query tower reads
    it with the user's id (``""``: the out-of-vocabulary id), as ``recommend_text`` does.
    """
    users = [str(user) for user, _ in rows]
    vectors = np.stack([interest_vector(texts, embedder, user, train, review_vectors)
                        for user, texts in rows])
    index = _index(model, item_ids, k)
    return models.recommend(index, {schema.USER: np.array(users, object),
                                    QUERY_VECTOR: vectors},
                            k=k, exclude_seen=seen_items(seen))
