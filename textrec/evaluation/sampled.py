"""Sampled metrics, kept here to show why this package does not use them.

Many papers rank each user's held-out item against 100 random items instead of the whole
catalogue. :func:`sampled_ranking_metrics` does exactly that, so a notebook can put the two side
by side: sampled numbers are much higher, and they can put models in a different order
(Krichene and Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020).

For each user with a target: the first target (lowest item index; leave-last-out has one, see
:func:`first_targets`), and ``n_negatives`` items drawn uniformly without replacement from the
items that are neither masked nor that target (as in full ranking against that one target).
The target's rank among the 1 + n_negatives is
``1 + #(negatives scored higher) + #(negatives scored equal) / 2`` (ties share the ranks).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from textrec import ranking
from textrec.evaluation import metrics

_BATCH_ELEMENTS = 2**24


def first_targets(targets) -> sp.csr_matrix:
    """The first target of each user (lowest item index) of ``targets``, binary sparse
    [n users, n items], as a binary CSR matrix of the same shape: the one target the sampled
    metrics rank, to compare them with full ranking on the same task."""
    targets = metrics.as_item_sets(sp.csr_matrix(targets), *targets.shape, what="targets")
    has = np.diff(targets.indptr) > 0
    rows = np.flatnonzero(has)
    columns = targets.indices[targets.indptr[:-1][has]]
    return sp.csr_matrix((np.ones(rows.size, np.float32), (rows, columns)), shape=targets.shape)


def sampled_ranks(scores, targets, exclude=None, n_negatives: int = 100, seed: int = 0):
    """(rank of each user's first target among it and its sampled negatives, float [n users],
    NaN for users without a target)."""
    scores = ranking.check_scores(scores)
    if n_negatives <= 0:
        raise ValueError(f"n_negatives must be positive, got {n_negatives}")
    n_users, n_items = scores.shape
    targets = first_targets(metrics.as_item_sets(targets, n_users, n_items, what="targets"))
    blocked = targets.copy()
    if exclude is not None:
        blocked = blocked + metrics.as_item_sets(exclude, n_users, n_items, what="exclude")
        blocked = blocked.tocsr()
    rng = np.random.default_rng(seed)
    has_target = np.diff(targets.indptr) > 0
    if not has_target.any():
        raise ValueError("no user has a target item; nothing to rank")
    first = np.zeros(n_users, np.int64)
    first[has_target] = targets.indices[targets.indptr[:-1][has_target]]
    ranks = np.full(n_users, np.nan)
    step = max(1, _BATCH_ELEMENTS // max(n_items, 1))
    for start in range(0, n_users, step):
        stop = min(start + step, n_users)
        keys = rng.random((stop - start, n_items))
        keys[blocked[start:stop].toarray() > 0] = np.inf  # never drawn
        drawn = min(n_negatives, n_items)
        negatives = np.argpartition(keys, drawn - 1, axis=1)[:, :drawn]
        valid = np.isfinite(np.take_along_axis(keys, negatives, axis=1))
        batch = np.asarray(scores[start:stop], dtype=float)
        target_score = batch[np.arange(stop - start), first[start:stop]][:, None]
        negative_scores = np.take_along_axis(batch, negatives, axis=1)
        higher = ((negative_scores > target_score) & valid).sum(axis=1)
        equal = ((negative_scores == target_score) & valid).sum(axis=1)
        ranks[start:stop] = 1.0 + higher + equal / 2.0
    ranks[~has_target] = np.nan
    return ranks


def sampled_ranking_metrics(scores, targets, exclude=None, n_negatives: int = 100, ks=(10,),
                            seed: int = 0) -> dict:
    """HR@k and NDCG@k of the target's rank among ``n_negatives`` sampled items, averaged
    over users with a target (keys like ``"hr@10"``), plus ``"per_user"`` arrays."""
    ranks = sampled_ranks(scores, targets, exclude, n_negatives, seed)
    known = ~np.isnan(ranks)
    result, per_user = {}, {}
    for k in ks:
        safe = np.where(known, ranks, np.inf)
        hit = safe <= k
        per_user[f"hr@{k}"] = np.where(known, hit.astype(float), np.nan)
        gain = np.where(hit, 1.0 / np.log2(np.minimum(safe, k) + 1.0), 0.0)
        per_user[f"ndcg@{k}"] = np.where(known, gain, np.nan)
        result[f"hr@{k}"] = float(np.nanmean(per_user[f"hr@{k}"]))
        result[f"ndcg@{k}"] = float(np.nanmean(per_user[f"ndcg@{k}"]))
    result["per_user"] = per_user
    return result
