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

from textrec import ranking

METRIC_NAMES = ("hr", "ndcg", "mrr", "precision", "recall", "map")

# The one top-k and item-set form of the package live in textrec.ranking.
as_item_sets = ranking.as_item_sets
topk_items = ranking.topk_items


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


def ranking_metrics(scores, targets, exclude=None, ks=(10,), per_user: bool = False,
                    with_top: bool = False) -> dict:
    """HR, NDCG, MRR, precision, recall and MAP at each k in ``ks``, averaged over users.

    Returns a dict with keys like ``"ndcg@10"`` (floats, means over evaluated users),
    ``"n_users_evaluated"`` and ``"n_users_skipped"`` (users without targets). With
    ``per_user=True`` it also holds ``"per_user"``: a dict of float arrays [n_users] with NaN
    for skipped users, so they line up with user indices. With ``with_top=True`` it holds
    ``"top"`` (the evaluated users' top max(ks) items, int [n evaluated, max(ks)]) and
    ``"evaluated"`` (those users' indices, int [n evaluated]).

    Definitions at k, for a user with relevant set R: HR = 1 if any of the top k is in R;
    precision = hits / k; recall = hits / |R|; NDCG = DCG / ideal DCG with binary gains,
    DCG = sum of 1 / log2(rank + 1) over hits and the ideal over min(k, |R|) hits; MRR =
    1 / rank of the first hit (0 when none in the top k); MAP = sum over hit ranks of
    precision at that rank, divided by min(k, |R|).
    """
    scores = ranking.check_scores(scores)
    ks = [ranking.check_k(k) for k in ([ks] if isinstance(ks, numbers.Integral) else ks)]
    if not ks:
        raise ValueError("ks must hold at least one k")
    n_users, n_items = scores.shape
    targets = as_item_sets(targets, n_users, n_items, what="targets")
    exclude = None if exclude is None else as_item_sets(exclude, n_users, n_items, what="exclude")
    n_relevant = np.diff(targets.indptr)
    evaluated = np.flatnonzero(n_relevant > 0)
    if evaluated.size == 0:
        raise ValueError("no user has a target item; nothing to evaluate")
    top = ranking.topk_prechecked(scores, max(ks), exclude, users=evaluated)  # checked above
    hits = _hits(top, targets[evaluated], n_items)
    result, per_user_values = {}, {}
    for k in ks:
        for name, values in _metrics_at(hits[:, :k], n_relevant[evaluated], k).items():
            key = f"{name}@{k}"
            result[key] = float(values.mean())
            full = np.full(n_users, np.nan)
            full[evaluated] = values
            per_user_values[key] = full
    result["n_users_evaluated"] = int(evaluated.size)
    result["n_users_skipped"] = int(n_users - evaluated.size)
    if per_user:
        result["per_user"] = per_user_values
    if with_top:
        result["top"], result["evaluated"] = top, evaluated
    return result


def _one(name: str, scores, targets, k: int, exclude) -> float:
    return ranking_metrics(scores, targets, exclude=exclude, ks=(k,))[f"{name}@{k}"]


def hit_rate_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Share of users with a relevant item in their top k (recall@k when each has one target)."""
    return _one("hr", scores, targets, k, exclude)


def ndcg_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean normalised discounted cumulative gain at k (binary relevance)."""
    return _one("ndcg", scores, targets, k, exclude)


def map_at_k(scores, targets, k: int = 10, exclude=None) -> float:
    """Mean average precision at k, normalised by min(k, number of relevant items)."""
    return _one("map", scores, targets, k, exclude)


def expected_random_metrics(targets, exclude, n_items: int, ks=(10,)) -> dict[str, np.ndarray]:
    """The expected value of every metric of :func:`ranking_metrics` under a uniformly random
    ranking of each user's candidates: per user, float [n users] (NaN without a target).

    A user with ``n`` candidates (items not in ``exclude``), ``R`` targets of which ``h`` are
    candidates, and ``m = min(k, n)`` recommended: HR = 1 - C(n - h, m) / C(n, m); NDCG =
    (h / n) * sum_{r <= m} 1 / log2(r + 1) / IDCG(min(R, k)); precision = (h / n) m / k;
    recall = (h / n) m / R; MRR = sum_{r <= m} P(first hit at r) / r; MAP = (h / n)
    sum_{r <= m} (1 + (r - 1)(h - 1) / (n - 1)) / r / min(R, k). Exact, no sampling: the
    reference every evaluation table shows, since a model below it has learned nothing.
    """
    ks = [ranking.check_k(k) for k in ([ks] if isinstance(ks, numbers.Integral) else ks)]
    n_users = targets.shape[0] if sp.issparse(targets) else len(targets)
    targets = as_item_sets(targets, n_users, n_items, what="targets")
    exclude = (sp.csr_matrix((n_users, n_items), dtype=np.int8) if exclude is None
               else as_item_sets(exclude, n_users, n_items, what="exclude"))
    n_relevant = np.diff(targets.indptr).astype(float)
    blocked_targets = np.asarray(targets.multiply(exclude).sum(axis=1), float).ravel()
    found = n_relevant - blocked_targets                      # h: targets that can be ranked
    n = n_items - np.diff(exclude.indptr).astype(float)        # candidates
    out = {}
    for k in ks:
        m = np.minimum(k, n).astype(np.int64)
        share = np.divide(found, n, out=np.zeros_like(found), where=n > 0)
        values = {name: np.zeros(n_users) for name in METRIC_NAMES}
        discounts = 1.0 / np.log2(np.arange(1, k + 1) + 1.0)
        ideal = np.cumsum(discounts)
        for user in np.flatnonzero(n_relevant > 0):
            users_n, h, top = n[user], found[user], m[user]
            ranks = np.arange(1, top + 1)
            if top == 0 or h == 0:
                continue
            # P(no hit in the first r - 1) * P(hit at r | none before), r = 1..top
            misses = np.concatenate([[1.0], np.cumprod((users_n - h - ranks[:-1] + 1)
                                                       / (users_n - ranks[:-1] + 1))])
            first_hit = misses * h / (users_n - ranks + 1)
            n_ideal = int(min(n_relevant[user], k))
            later = (ranks - 1) * (h - 1) / (users_n - 1) if users_n > 1 else 0.0
            values["hr"][user] = min(1.0, first_hit.sum())
            values["ndcg"][user] = share[user] * discounts[:top].sum() / ideal[n_ideal - 1]
            values["mrr"][user] = (first_hit / ranks).sum()
            values["precision"][user] = share[user] * top / k
            values["recall"][user] = share[user] * top / n_relevant[user]
            values["map"][user] = share[user] * ((1 + later) / ranks).sum() / n_ideal
        for name, column in values.items():
            out[f"{name}@{k}"] = np.where(n_relevant > 0, column, np.nan)
    return out


def random_scores(n_users: int, n_items: int, seed: int = 0) -> np.ndarray:
    """Uniform random scores [n_users, n_items]: the floor any model must clear."""
    return np.random.default_rng(seed).random((n_users, n_items))


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
