"""Checks for the exercises of lesson 11, beyond one machine.

Task 1 ``merge_interest_vector(partial_sums, counts)``: workers each summed some of a user's
review vectors; merge their partial sums into the user's interest vector (the unit mean), or a
zero vector when no worker saw a review with text (what a Beam ``CombineFn`` does).
Task 2 ``ivf_search(query, vectors, centroids, list_items, list_splits, n_probe, k)``: an
inverted-file index's search: score the centroids, open the ``n_probe`` best lists, score only
their items, return the best ``k`` item rows (best first; -1 where the lists hold fewer).
Task 3 ``recommend_unseen(found, seen, exact_scores, k)``: the guarantees around an approximate
search: drop the seen items from its over-fetched answer ``found`` (item rows best first, -1
padding); when fewer than ``min(k, items not seen)`` remain, answer with the exact top-k of
``exact_scores`` with the seen items masked; pad with -1.

References: :func:`textrec.scale.embedding.user_row`, :meth:`textrec.models.ann.AnnIndex.
recommend` and the grading references below.
"""

from __future__ import annotations

import numpy as np

from textrec import ranking
from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng

LESSON = "11_beyond_one_machine"


def reference_merge_interest_vector(partial_sums, counts) -> np.ndarray:
    partial_sums = np.asarray(partial_sums, float)
    total = partial_sums[np.asarray(counts) > 0].sum(axis=0)
    norm = np.linalg.norm(total)
    return total / norm if norm > 1e-9 else np.zeros(partial_sums.shape[1])


def reference_ivf_search(query, vectors, centroids, list_items, list_splits, n_probe,
                         k) -> np.ndarray:
    query, vectors = np.asarray(query, float), np.asarray(vectors, float)
    probe = np.argsort(-(np.asarray(centroids, float) @ query), kind="stable")[:n_probe]
    candidates = np.concatenate([list_items[list_splits[c]:list_splits[c + 1]] for c in probe]
                                + [np.zeros(0, np.int64)]).astype(np.int64)
    scores = vectors[candidates] @ query
    order = np.lexsort((candidates, -scores))[:k]
    out = np.full(k, -1, np.int64)
    out[:len(order)] = candidates[order]
    return out


def reference_recommend_unseen(found, seen, exact_scores, k) -> np.ndarray:
    found, seen = np.asarray(found, np.int64), np.asarray(seen, np.int64)
    exact_scores = np.asarray(exact_scores, float)
    wanted = min(k, len(exact_scores) - len(np.unique(seen)))
    keep = found[(found >= 0) & ~np.isin(found, seen)]
    out = np.full(k, -1, np.int64)
    if len(keep) >= wanted:
        out[:wanted] = keep[:wanted]
        return out
    return ranking.topk_items(exact_scores[None, :], k, exclude=[seen])[0]


def _unit_rows(rng, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# ----------------------------------------------------------- task 1: merge_interest_vector

# Two workers: sums (3, 0) over 3 reviews and (0, 4) over 1: total (3, 4), unit (0.6, 0.8).
# A worker that saw no review with text sends a zero sum and count 0; it changes nothing.
# No worker saw any text: a zero vector, not NaN.
MERGE_CASES = [
    ([[3.0, 0.0], [0.0, 4.0]], [3, 1], [0.6, 0.8]),
    ([[3.0, 0.0], [0.0, 0.0], [0.0, 4.0]], [3, 0, 1], [0.6, 0.8]),
    ([[0.0, 0.0], [0.0, 0.0]], [0, 0], [0.0, 0.0]),
]


def _merge_hint(sums, counts, got) -> str:
    expected = reference_merge_interest_vector(sums, counts)
    if not np.isfinite(got).all():
        return "when no worker saw a review with text, return a zero vector (not NaN)"
    mean_of_means = sums[counts > 0] / counts[counts > 0, None]
    if len(mean_of_means) and np.allclose(got, mean_of_means.mean(axis=0), atol=1e-6):
        return ("add the partial sums, then scale the total to unit length; averaging the "
                "workers' means weighs a worker with one review like one with a hundred")
    if np.any(expected) and not np.isclose(np.linalg.norm(got), 1.0, atol=1e-4):
        return "scale the merged sum to unit length"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 1, "merge_interest_vector", "workers' partial sums merged into an interest vector")
def check_merge_interest_vector(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(MERGE_CASES)]
    rng = hidden_rng(1101)
    for number in range(6):
        workers, dim = int(rng.integers(1, 6)), int(rng.integers(2, 12))
        counts = rng.integers(0, 30, workers)
        sums = np.stack([_unit_rows(rng, max(int(c), 1), dim).sum(axis=0) * (c > 0)
                         for c in counts])
        given.append((f"hidden case {number + 1} ({workers} workers)", sums, counts,
                      reference_merge_interest_vector(sums, counts)))
    for case, sums, counts, expected in given:
        sums, counts = np.asarray(sums, float), np.asarray(counts)
        expected = np.asarray(expected, float)
        result = cases.call(sums.copy(), counts.copy(), case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.allclose(got, expected, atol=1e-5):
            raise cases.fail(f"{case}: " + _merge_hint(sums, counts, got))
        cases.passed()


# --------------------------------------------------------------------- task 2: ivf_search

# Four items in two lists: list 0 holds items 0 and 2 (centroid (1, 0)), list 1 items 1 and 3
# (centroid (0, 1)). Query (1, 0.1): centroid scores 1 and 0.1, so one probe opens list 0:
# items 0 (1.0) and 2 (0.9) -> [0, 2]. With k 3 the third slot stays -1. Two probes score all.
IVF_VECTORS = [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.2, 0.9]]
IVF_CASES = [
    ([1.0, 0.1], 1, 2, [0, 2]),
    ([1.0, 0.1], 1, 3, [0, 2, -1]),
    ([1.0, 0.1], 2, 3, [0, 2, 3]),
]


def _ivf_hint(query, vectors, centroids, items, splits, n_probe, k, got) -> str:
    expected = reference_ivf_search(query, vectors, centroids, items, splits, n_probe, k)
    exact = np.full(k, -1, np.int64)
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    exact[:len(order)] = order
    if np.array_equal(got, exact) and not np.array_equal(got, expected):
        return ("that is the exact top-k over every item: score only the items of the "
                f"{n_probe} list(s) whose centroids score highest")
    if len(got) == k and (got < 0).any() and not (expected < 0).any():
        return "the probed lists hold enough items: fill every slot"
    if len(got) == k and set(got[got >= 0]) == set(expected[expected >= 0]):
        return "the right items, in the wrong order: best score first (ties: lower row first)"
    return f"expected {expected.tolist()}, got {describe(got, 80)}"


@check(LESSON, 2, "ivf_search", "an inverted-file index's search")
def check_ivf_search(cases: Cases) -> None:
    vectors = np.array(IVF_VECTORS)
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    items, splits = np.array([0, 2, 1, 3]), np.array([0, 2, 4])
    given = [(f"the task's example {n + 1}", np.array(q), vectors, centroids, items, splits, p, k,
              np.array(expected)) for n, (q, p, k, expected) in enumerate(IVF_CASES)]
    rng = hidden_rng(1102)
    for number in range(6):
        n, dim = int(rng.integers(20, 120)), int(rng.integers(2, 10))
        lists = int(rng.integers(2, 9))
        vectors_ = _unit_rows(rng, n, dim)
        centroids_ = _unit_rows(rng, lists, dim)
        assignment = np.argmax(vectors_ @ centroids_.T, axis=1)
        items_ = np.argsort(assignment, kind="stable")
        splits_ = np.concatenate([[0], np.cumsum(np.bincount(assignment, minlength=lists))])
        query = _unit_rows(rng, 1, dim)[0]
        probe, k = int(rng.integers(1, lists + 1)), int(rng.integers(1, 12))
        given.append((f"hidden case {number + 1} ({n} items, {lists} lists, {probe} probed)",
                      query, vectors_, centroids_, items_, splits_, probe, k,
                      reference_ivf_search(query, vectors_, centroids_, items_, splits_, probe,
                                           k)))
    for case, query, vectors_, centroids_, items_, splits_, probe, k, expected in given:
        result = cases.call(query.copy(), vectors_.copy(), centroids_.copy(), items_.copy(),
                            splits_.copy(), probe, k, case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.array_equal(got.astype(np.int64), expected):
            raise cases.fail(f"{case}: " + _ivf_hint(query, vectors_, centroids_, items_,
                                                     splits_, probe, k, got.astype(np.int64)))
        cases.passed()


# --------------------------------------------------------------- task 3: recommend_unseen

# Five items, exact scores (0.9, 0.8, 0.7, 0.6, 0.5). The approximate search over-fetched
# [0, 2, 4, -1]; the user has seen item 2. Kept: [0, 4], enough for k 2 -> [0, 4]. For k 3 only
# two unseen remain in its answer: fall back to the exact top 3 without item 2 -> [0, 1, 3].
# Seen 0..3: one unseen item exists, so [4, -1, -1] is a full answer.
UNSEEN_SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]
UNSEEN_CASES = [
    ([0, 2, 4, -1], [2], 2, [0, 4]),
    ([0, 2, 4, -1], [2], 3, [0, 1, 3]),
    ([4, 0, 1, 2], [0, 1, 2, 3], 3, [4, -1, -1]),
]


def _unseen_hint(found, seen, scores, k, got) -> str:
    expected = reference_recommend_unseen(found, seen, scores, k)
    if set(got[got >= 0]) & set(seen):
        return "a seen item came back: drop the seen items from the answer"
    if (got < 0).sum() > (expected < 0).sum():
        return ("fewer items than asked while unseen items remain: fall back to the exact top-k "
                "(seen items masked)")
    if -1 in got[:np.sum(expected >= 0)] or len(got) != k:
        return f"return exactly k = {k} rows, -1 only where no unseen item is left"
    return f"expected {expected.tolist()}, got {describe(got, 80)}"


@check(LESSON, 3, "recommend_unseen", "no seen item and exactly k around an approximate search")
def check_recommend_unseen(cases: Cases) -> None:
    scores = np.array(UNSEEN_SCORES)
    given = [(f"the task's example {n + 1}", np.array(f), np.array(s, np.int64), scores, k,
              np.array(e)) for n, (f, s, k, e) in enumerate(UNSEEN_CASES)]
    rng = hidden_rng(1103)
    for number in range(8):
        n, k = int(rng.integers(5, 60)), int(rng.integers(1, 10))
        scores_ = rng.permutation(n) / n
        seen = rng.choice(n, int(rng.integers(0, n)), replace=False)
        fetched = k + len(seen)
        # An approximate answer: most of the true order, a few misses, -1 padding.
        found = np.concatenate([np.argsort(-scores_)[:fetched], -np.ones(2, np.int64)])
        found = found[rng.random(len(found)) > 0.2]
        given.append((f"hidden case {number + 1} ({n} items, {len(seen)} seen, k {k})", found,
                      seen.astype(np.int64), scores_, k,
                      reference_recommend_unseen(found, seen, scores_, k)))
    for case, found, seen, scores_, k, expected in given:
        result = cases.call(found.copy(), seen.copy(), scores_.copy(), k, case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.array_equal(got.astype(np.int64), expected):
            raise cases.fail(f"{case}: " + _unseen_hint(found, seen, scores_, k,
                                                        got.astype(np.int64)))
        cases.passed()
