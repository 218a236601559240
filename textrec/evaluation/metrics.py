"""Ranking and rating metrics: plain NumPy functions over full score matrices.

Full ranking: every item is scored for every user, the items the user already interacted with
in training are masked, and the top k of the rest are compared with the held-out items. There
are no sampled metrics here: ranking against 100 random negatives inflates every number.

Shapes, in words:

* ``scores``: float array [number of users, number of items]; higher means more relevant;
* ``targets``: for each user the held-out relevant item indices (a list of arrays, a 1-D int
  array with one item per user, or a scipy.sparse matrix [users, items]); users with none are
  skipped and counted;
* ``exclude``: the items to mask for each user (same forms; usually the training items).

Ties at the k-th place are broken arbitrarily (``np.argpartition``); within the top k, equal
scores are ordered by item index. Masked items and items scored ``-inf`` are never recommended.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

METRIC_NAMES = ("hr", "ndcg", "mrr", "precision", "recall", "map")
_BATCH_ELEMENTS = 2**25  # scores copied per batch when masking (~128 MB of float32)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_scores(scores) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.number):
        raise ValueError(
            f"scores must be a numeric 2-D array [n_users, n_items], got shape {scores.shape} "
            f"and dtype {scores.dtype}"
        )
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(scores).any():
        raise ValueError("scores contain NaN; replace them (e.g. with -np.inf) before ranking")
    return scores


def as_item_sets(rows, n_users: int, n_items: int, what: str) -> sp.csr_matrix:
    """``rows`` (lists of item indices, a 1-D array of one item per user, or a sparse matrix)
    as a binary CSR matrix [n_users, n_items] with sorted, distinct indices."""
    if sp.issparse(rows):
        matrix = sp.csr_matrix(rows, copy=True)
        matrix.eliminate_zeros()
        if matrix.shape != (n_users, n_items):
            raise ValueError(f"{what} has shape {matrix.shape}; expected {(n_users, n_items)}")
    else:
        one_each = isinstance(rows, np.ndarray) and rows.ndim == 1
        if one_each and np.issubdtype(rows.dtype, np.integer):
            rows = rows[:, np.newaxis]  # one item per user
        if len(rows) != n_users:
            raise ValueError(f"{what} has {len(rows)} rows; scores has {n_users} users")
        items = [np.asarray(row).ravel() for row in rows]
        lengths = np.fromiter((len(row) for row in items), np.int64, n_users)
        indices = np.concatenate(items) if n_users and lengths.sum() else np.zeros(0, np.int64)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            if not np.all(np.mod(indices, 1) == 0):
                raise ValueError(f"{what} must hold integer item indices")
        indices = indices.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= n_items):
            bad = indices[(indices < 0) | (indices >= n_items)][0]
            raise ValueError(f"{what} holds item index {bad}, outside [0, {n_items}) (n_items)")
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = np.ones(len(indices), np.int8)
        matrix = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
    matrix.sum_duplicates()  # also sorts the indices of each row
    matrix.data[:] = 1
    return matrix


def _topk_checked(
    scores: np.ndarray, k: int, exclude: sp.csr_matrix | None, users=None
) -> np.ndarray:
    """Top k of the rows ``users`` (default: all) of checked inputs; see :func:`topk_items`."""
    users = np.arange(scores.shape[0]) if users is None else np.asarray(users)
    if exclude is not None:
        exclude = exclude[users]
    n_users, n_items = len(users), scores.shape[1]
    kept = min(k, n_items)
    top = np.full((n_users, k), -1, np.int64)
    step = max(1, min(1024, _BATCH_ELEMENTS // max(n_items, 1)))
    for start in range(0, n_users, step):
        stop = min(start + step, n_users)
        batch = np.array(scores[users[start:stop]], dtype=np.result_type(scores.dtype, np.float32))
        if exclude is not None:
            lo, hi = exclude.indptr[start], exclude.indptr[stop]
            rows = np.repeat(np.arange(stop - start), np.diff(exclude.indptr[start : stop + 1]))
            batch[rows, exclude.indices[lo:hi]] = -np.inf
        if kept < n_items:
            candidates = np.argpartition(-batch, kept - 1, axis=1)[:, :kept]
            candidates.sort(axis=1)  # equal scores: lower item index first
        else:
            candidates = np.broadcast_to(np.arange(n_items), batch.shape)
        candidate_scores = np.take_along_axis(batch, candidates, axis=1)
        order = np.argsort(-candidate_scores, axis=1, kind="stable")
        best = np.take_along_axis(candidates, order, axis=1)
        best_scores = np.take_along_axis(candidate_scores, order, axis=1)
        top[start:stop, :kept] = np.where(np.isneginf(best_scores), -1, best)
    return top


def topk_items(scores, k: int, exclude=None) -> np.ndarray:
    """The k best items of each user, best first: int array [n_users, k].

    ``exclude`` items get score ``-inf`` first. A slot that only masked (or ``-inf``) items
    could fill, or k beyond the number of items, holds -1.
    """
    scores = _check_scores(scores)
    k = _check_k(k)
    if exclude is not None:
        exclude = as_item_sets(exclude, *scores.shape, what="exclude")
    return _topk_checked(scores, k, exclude)


def _hits(top: np.ndarray, targets: sp.csr_matrix, n_items: int) -> np.ndarray:
    """Boolean [n_users, k]: whether each recommended item is one of the user's targets."""
    users = np.repeat(np.arange(targets.shape[0], dtype=np.int64), np.diff(targets.indptr))
    target_keys = users * n_items + targets.indices  # sorted: rows in order, indices sorted
    query = np.arange(top.shape[0], dtype=np.int64)[:, np.newaxis] * n_items + top
    if target_keys.size == 0:
        return np.zeros(top.shape, bool)
    position = np.minimum(np.searchsorted(target_keys, query), target_keys.size - 1)
    return (target_keys[position] == query) & (top >= 0)


def _metrics_at(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user metrics from ``hits`` [n_users, k] and ``n_relevant`` [n_users] (all >= 1)."""
    ranks = np.arange(1, k + 1)
    discounts = 1.0 / np.log2(ranks + 1.0)
    n_hits = hits.sum(axis=1)
    n_ideal = np.minimum(n_relevant, k)
    found = n_hits > 0
    first = np.argmax(hits, axis=1)
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    return {
        "hr": found.astype(float),
        "ndcg": (hits * discounts).sum(axis=1) / np.cumsum(discounts)[n_ideal - 1],
        "mrr": np.where(found, 1.0 / (first + 1.0), 0.0),
        "precision": n_hits / k,
        "recall": n_hits / n_relevant,
        "map": (precision_at_rank * hits).sum(axis=1) / n_ideal,
    }


def ranking_metrics(scores, targets, exclude=None, ks=(10,), per_user: bool = False) -> dict:
    """HR, NDCG, MRR, precision, recall and MAP at each k in ``ks``, averaged over users.

    Returns a dict with keys like ``"ndcg@10"`` (floats, means over evaluated users),
    ``"n_users_evaluated"`` and ``"n_users_skipped"`` (users without targets). With
    ``per_user=True`` it also holds ``"per_user"``: a dict of float arrays [n_users] with NaN
    for skipped users, so they line up with user indices.

    Definitions at k, for a user with relevant set R: HR = 1 if any of the top k is in R;
    precision = hits / k; recall = hits / |R|; NDCG = DCG / ideal DCG with binary gains,
    DCG = sum of 1 / log2(rank + 1) over hits and the ideal over min(k, |R|) hits; MRR =
    1 / rank of the first hit (0 when none in the top k); MAP = sum over hit ranks of
    precision at that rank, divided by min(k, |R|).
    """
    scores = _check_scores(scores)
    ks = [_check_k(k) for k in ([ks] if isinstance(ks, numbers.Integral) else ks)]
    if not ks:
        raise ValueError("ks must hold at least one k")
    n_users, n_items = scores.shape
    targets = as_item_sets(targets, n_users, n_items, what="targets")
    exclude = None if exclude is None else as_item_sets(exclude, n_users, n_items, what="exclude")
    n_relevant = np.diff(targets.indptr)
    evaluated = n_relevant > 0
    if not evaluated.any():
        raise ValueError("no user has a target item; nothing to evaluate")
    top = _topk_checked(scores, max(ks), exclude, users=np.flatnonzero(evaluated))
    hits = _hits(top, targets[evaluated], n_items)
    result, per_user_values = {}, {}
    for k in ks:
        for name, values in _metrics_at(hits[:, :k], n_relevant[evaluated], k).items():
            key = f"{name}@{k}"
            result[key] = float(values.mean())
            full = np.full(n_users, np.nan)
            full[evaluated] = values
            per_user_values[key] = full
    result["n_users_evaluated"] = int(evaluated.sum())
    result["n_users_skipped"] = int(n_users - evaluated.sum())
    if per_user:
        result["per_user"] = per_user_values
    return result


def _one(name: str, scores, targets, k: int, exclude) -> float:
    return ranking_metrics(scores, targets, exclude=exclude, ks=(k,))[f"{name}@{k}"]


def hit_rate_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Share of users with a relevant item in their top k (recall@k when each has one target)."""
    return _one("hr", scores, targets, k, exclude)


def ndcg_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean normalised discounted cumulative gain at k (binary relevance)."""
    return _one("ndcg", scores, targets, k, exclude)


def mrr_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean reciprocal rank of the first relevant item within the top k (0 if none)."""
    return _one("mrr", scores, targets, k, exclude)


def precision_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean share of the top k that is relevant."""
    return _one("precision", scores, targets, k, exclude)


def recall_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean share of each user's relevant items found in the top k."""
    return _one("recall", scores, targets, k, exclude)


def map_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean average precision at k, normalised by min(k, number of relevant items)."""
    return _one("map", scores, targets, k, exclude)


def _paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; they must match "
            "(a [n, 1] prediction against [n] ratings broadcasts silently: use .ravel())"
        )
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty")
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    """Root mean squared error between ratings and predictions of the same shape."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error between ratings and predictions of the same shape."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))
