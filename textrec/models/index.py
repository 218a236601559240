"""Serving a two-tower model: a top-k index, recommendations without seen items, and the full
score matrix for evaluation.

* :func:`build_index` puts the candidate embeddings in a ``tfrs.layers.factorized_top_k.
  BruteForce`` layer that owns the query tower, so it maps raw user ids (or a features dict)
  straight to the top k items: exact, and fast enough for tens of thousands of items.
* :func:`recommend` scores the queries against the index's candidates and takes the top k
  with the package's one top-k (``textrec.ranking.topk_items``), the user's seen items
  (``textrec.ranking.SeenItems``) masked: no seen item is ever returned, and every user gets
  exactly k when enough unseen items exist.
* :func:`score_matrix` scores every (user, item) pair, float [n users, n items], for
  ``textrec.evaluation.ranking_metrics`` (which masks the train items itself).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec import ranking
from textrec.data import schema


def _strings(values) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "S" or values.dtype == object:
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()],
                        dtype=object).reshape(values.shape)
    return values.astype(str).astype(object)


def candidate_embeddings(candidate_model, candidate_ids, batch_size: int = 1024) -> np.ndarray:
    """The candidate tower's embedding of each id: float32 [len(candidate_ids), embedding dim]."""
    ids = [str(i) for i in candidate_ids]
    if not ids:
        raise ValueError("no candidate ids given")
    parts = [candidate_model(tf.constant(ids[start:start + batch_size])).numpy()
             for start in range(0, len(ids), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def build_index(query_model, candidate_ids, candidate_embeddings, k: int = 10):
    """A ``BruteForce`` top-k layer over the candidates.

    Args:
      query_model: the query tower; the index calls it on the queries it is given.
      candidate_ids: item ids [n items].
      candidate_embeddings: float [n items, embedding dim], row i for ``candidate_ids[i]``
        (see :func:`candidate_embeddings`).
      k: the default number of results.

    Calling ``index(queries, k=...)`` with user ids [n users] (or a features dict) returns
    (scores float [n users, k], item ids bytes [n users, k]), best first.
    """
    candidate_embeddings = np.asarray(candidate_embeddings, np.float32)
    ids = [str(i) for i in candidate_ids]
    if candidate_embeddings.ndim != 2 or candidate_embeddings.shape[0] != len(ids) or not ids:
        raise ValueError(f"{len(ids)} candidate ids but embeddings of shape "
                         f"{candidate_embeddings.shape}; expected one row per id")
    index = tfrs.layers.factorized_top_k.BruteForce(query_model, k=min(k, len(ids)))
    index.index(tf.constant(candidate_embeddings), tf.constant(ids))
    index.candidate_ids = np.array(ids, object)
    index.candidate_vectors = candidate_embeddings
    return index


def _query_users(queries) -> tuple[object, list[str]]:
    if isinstance(queries, Mapping):
        users = queries.get(schema.USER)
        n = len(next(iter(queries.values())))
        users = [""] * n if users is None else [str(u) for u in _strings(users).ravel()]
        return {key: tf.constant(value) for key, value in queries.items()}, users
    users = [str(u) for u in _strings(queries).ravel()]
    return tf.constant(users), users


def recommend(index, queries, k: int = 10, exclude_seen=None, batch_size: int = 1024):
    """Top k items per user that the user has not seen.

    Args:
      index: a layer from :func:`build_index`.
      queries: user ids [n users], or a features dict (with ``schema.USER`` and e.g. a
        ``QUERY_VECTOR`` for users served from text).
      k: items per user.
      exclude_seen: items never to return to their user: a ``textrec.ranking.SeenItems``
        (e.g. ``SeenItems.from_frame(train)``) or ``{user id: item ids}``.

    Returns:
      (scores float32 [n users, k], item ids object [n users, k]), best first. Where a user has
      fewer than k unseen candidates the tail is padded with score ``-inf`` and id ``""``.
    """
    k = ranking.check_k(k)
    features, users = _query_users(queries)
    queries_vectors = []
    for start in range(0, len(users), batch_size):
        part = ({key: value[start:start + batch_size] for key, value in features.items()}
                if isinstance(features, dict) else features[start:start + batch_size])
        queries_vectors.append(index.query_model(part).numpy())
    # The same matmul as the BruteForce layer's, so scores match the index to the last bit.
    scores = tf.linalg.matmul(np.concatenate(queries_vectors), index.candidate_vectors,
                              transpose_b=True).numpy()
    if exclude_seen is not None and not isinstance(exclude_seen, ranking.SeenItems):
        exclude_seen = ranking.SeenItems.from_mapping(exclude_seen)
    seen = None if exclude_seen is None else exclude_seen.rows_for(users, index.candidate_ids)
    top = ranking.topk_items(scores, k, exclude=seen)
    found = top >= 0
    rows = np.arange(len(users))[:, np.newaxis]
    out_scores = np.where(found, scores[rows, np.maximum(top, 0)], -np.inf).astype(np.float32)
    out_ids = np.where(found, index.candidate_ids[np.maximum(top, 0)], "").astype(object)
    return out_scores, out_ids


def score_matrix(query_model, candidate_model, user_ids, item_ids,
                 batch_size: int = 1024) -> np.ndarray:
    """Dot-product scores of every user against every item: float32 [n users, n items]."""
    users = [str(u) for u in user_ids]
    if not users:
        raise ValueError("no user ids given")
    items = candidate_embeddings(candidate_model, item_ids, batch_size)
    queries = [query_model(tf.constant(users[start:start + batch_size])).numpy()
               for start in range(0, len(users), batch_size)]
    return (np.concatenate(queries) @ items.T).astype(np.float32)


def tower_scores(user_ids, item_ids, batch_size: int = 1024):
    """``model -> score_matrix(model.query_model, model.candidate_model, user_ids, item_ids)``:
    how a model with two towers (the two-tower, the joint model, matrix factorisation) scores
    every user against every item, e.g. for :func:`textrec.evaluation.validation_ndcg`."""
    return lambda model: score_matrix(model.query_model, model.candidate_model, user_ids,
                                      item_ids, batch_size)
