"""User-based collaborative filtering with neighbours found from text, or from history.

The course's article recommends to user i the set ``I_i = A(u_i, theta)``: find the users j
whose text interest vectors u_j are closest to u_i (cosine similarity), and gather what those
neighbours liked. Here:

* ``sim(i, j) = u_i . u_j / (|u_i| |u_j|)`` (0 when a vector is zero);
* theta is ``n_neighbours`` (the k most similar users, never i itself) and ``min_similarity``
  (neighbours must be strictly more similar than it);
* ``score(i, item) = sum over neighbours j of sim(i, j) * liked(j, item)``, with
  ``liked(j, item) = 1`` when j rated the item at least ``min_rating`` in train.

Dividing by the sum of the similarities would not change any user's ranking, so it is left out.
The baseline finds neighbours from interaction history alone: the same formula with u_i the
user's binary row of the train user-item matrix.

Everything is matrix algebra over blocks of users (no Python loop over items). The result is a
dense score matrix [number of users, number of items] for
``textrec.evaluation.ranking_metrics``; nothing is excluded here, not even the user's own train
items: masking is ``ranking_metrics``'s job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec.data import schema
from textrec.models.text_table import stack_vectors

_BLOCK_ELEMENTS = 2**24  # similarities held at once (~64 MB of float32)


def user_item_matrix(frame: pd.DataFrame, user_ids, item_ids, min_rating: float | None = None):
    """Binary CSR matrix [len(user_ids), len(item_ids)]: 1 where the user interacted with the
    item in ``frame`` (with rating >= ``min_rating`` when given). Unknown ids are ignored."""
    if min_rating is not None:
        frame = frame[frame[schema.RATING] >= min_rating]
    users = pd.Index([str(u) for u in user_ids]).get_indexer(frame[schema.USER].astype(str))
    items = pd.Index([str(i) for i in item_ids]).get_indexer(frame[schema.ITEM].astype(str))
    known = (users >= 0) & (items >= 0)
    matrix = sp.csr_matrix((np.ones(known.sum(), np.float32), (users[known], items[known])),
                           shape=(len(user_ids), len(item_ids)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _unit_rows(vectors):
    """Rows scaled to unit length (zero rows stay zero); dense or sparse like the input."""
    if sp.issparse(vectors):
        vectors = sp.csr_matrix(vectors, dtype=np.float32)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
        return sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ vectors
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def neighbour_weights(vectors, n_neighbours: int = 20, min_similarity: float = 0.0):
    """Sparse CSR [n users, n users]: row i holds sim(i, j) for i's neighbours j, zero elsewhere.

    ``vectors``: float [n users, dim], dense or sparse, one row per user. Each row keeps the
    ``n_neighbours`` most similar other users whose similarity exceeds ``min_similarity``.
    """
    if n_neighbours <= 0:
        raise ValueError(f"n_neighbours must be positive, got {n_neighbours}")
    unit = _unit_rows(vectors)
    n_users = unit.shape[0]
    kept = min(n_neighbours, n_users - 1)
    if kept <= 0:
        return sp.csr_matrix((n_users, n_users), dtype=np.float32)
    step = max(1, _BLOCK_ELEMENTS // max(n_users, 1))
    rows, cols, values = [], [], []
    for start in range(0, n_users, step):
        stop = min(start + step, n_users)
        block = unit[start:stop] @ unit.T  # [block users, n users]
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never yourself
        top = np.argpartition(-block, kept - 1, axis=1)[:, :kept]
        similarity = np.take_along_axis(block, top, axis=1)
        good = similarity > min_similarity
        rows.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[good])
        cols.append(top[good])
        values.append(similarity[good])
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_users, n_users), dtype=np.float32)


def neighbour_scores(weights, liked) -> np.ndarray:
    """``weights @ liked``: float32 [n users, n items]. ``weights``: [n users, n users] from
    :func:`neighbour_weights`; ``liked``: binary [n users, n items], e.g. from
    :func:`user_item_matrix` with ``min_rating``."""
    scores = sp.csr_matrix(weights) @ sp.csr_matrix(liked)
    return np.asarray(scores.toarray(), np.float32)


def text_neighbour_scores(interest_vectors, train: pd.DataFrame, user_ids, item_ids,
                          n_neighbours: int = 20, min_similarity: float = 0.0,
                          min_rating: float = 4.0) -> np.ndarray:
    """User-based CF with neighbours from text: float32 [len(user_ids), len(item_ids)].

    ``interest_vectors``: a float matrix [len(user_ids), dim] in ``user_ids`` order, or vectors
    by id (any form of ``textrec.models.text_table``; users without one get zeros and so no
    neighbours).
    """
    if isinstance(interest_vectors, np.ndarray) and interest_vectors.ndim == 2:
        if len(interest_vectors) != len(user_ids):
            raise ValueError(f"{len(interest_vectors)} interest vectors for {len(user_ids)} users")
        vectors = interest_vectors
    else:
        vectors = stack_vectors(interest_vectors, user_ids)
    weights = neighbour_weights(vectors, n_neighbours, min_similarity)
    return neighbour_scores(weights, user_item_matrix(train, user_ids, item_ids, min_rating))


def history_neighbour_scores(train: pd.DataFrame, user_ids, item_ids, n_neighbours: int = 20,
                             min_similarity: float = 0.0, min_rating: float = 4.0) -> np.ndarray:
    """User-based CF with neighbours from interaction history alone (cosine on the binary
    train user-item matrix): float32 [len(user_ids), len(item_ids)]."""
    history = user_item_matrix(train, user_ids, item_ids)
    weights = neighbour_weights(history, n_neighbours, min_similarity)
    return neighbour_scores(weights, user_item_matrix(train, user_ids, item_ids, min_rating))
