"""Checks for the exercises of lesson 03, interest vectors and a text-only recommender.

Task 1 ``recency_interest_vector(review_vectors, timestamps, half_life_days)``: a user's
recency-weighted interest vector.
Task 2 ``ndcg_at_k(ranked_items, relevant_items, k)``: NDCG@k of one ranked list.
Task 3 ``recommend_top_k(user_vector, item_vectors, seen_items, k)``: top k by cosine
similarity, seen items masked.

References: :func:`textrec.evaluation.metrics.ndcg_at_k` and
:func:`textrec.evaluation.metrics.topk_items`; the recency weights follow the definition of
``textrec.interests.vectors`` (``0.5 ** (age / half_life_days)``, age counted from the user's
latest review), written out here.
"""

from __future__ import annotations

import numpy as np

from textrec.evaluation import metrics
from textrec.grading.checking import Cases, check, describe, hidden_rng

LESSON = "03_interest_vectors"
DAY = 86_400

# ---------------------------------------------------------- task 1: recency_interest_vector

# 1. Two reviews 10 days apart, half-life 10 days: weights 0.5 (older) and 1 (newer);
#    0.5 * (1, 0) + 1 * (0, 1) = (0.5, 1), of length 1.1180 -> (0.4472, 0.8944).
# 2. The same with real timestamps (2014) and a half-life of 20 days, 20 days apart.
# 3. Three reviews on one day weigh the same: (2, 1) / 2.2361 -> (0.8944, 0.4472).
# 4. Rows not in time order: the newer review is the first row.
RECENCY_CASES = [
    ([[1, 0], [0, 1]], [0, 10 * DAY], 10.0, [0.4472136, 0.8944272]),
    ([[1, 0], [0, 1]], [1_400_000_000, 1_400_000_000 + 20 * DAY], 20.0, [0.4472136, 0.8944272]),
    ([[1, 0], [1, 0], [0, 1]], [5 * DAY] * 3, 30.0, [0.8944272, 0.4472136]),
    ([[0, 1], [1, 0]], [1_400_000_000 + 10 * DAY, 1_400_000_000], 10.0, [0.4472136, 0.8944272]),
]


def reference_interest_vector(review_vectors, timestamps, half_life_days: float) -> np.ndarray:
    """Unit vector of the recency-weighted sum of the review vectors."""
    timestamps = np.asarray(timestamps, float)
    weights = 0.5 ** ((timestamps.max() - timestamps) / DAY / half_life_days)
    summed = weights @ np.asarray(review_vectors, float)
    return summed / np.linalg.norm(summed)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _recency_hint(vectors, timestamps, half_life: float, got: np.ndarray,
                  expected: np.ndarray) -> str:
    vectors, timestamps = np.asarray(vectors, float), np.asarray(timestamps, float)
    ages = (timestamps.max() - timestamps) / DAY
    if not np.all(np.isfinite(got)) or np.linalg.norm(got) < 1e-9:
        return ("the result is zero or not finite: did the weights underflow? Count each review's "
                "age from the user's latest review (not from 1970), in days")
    if not np.isclose(np.linalg.norm(got), 1.0, atol=1e-4):
        if np.allclose(_unit(got), expected, atol=1e-4):
            return (f"right direction, but its length is {np.linalg.norm(got):.4f}: scale it to "
                    "unit length")
    seconds = _unit((0.5 ** (ages * DAY / half_life)) @ vectors)
    if np.allclose(got, seconds, atol=1e-4):
        return "timestamps are in seconds but the half-life is in days: convert the ages to days"
    if np.allclose(got, _unit((0.5 ** (-ages / half_life)) @ vectors), atol=1e-4):
        return "the older reviews weigh more: the newest review should weigh the most"
    if np.allclose(got, _unit(np.exp(-ages / half_life) @ vectors), atol=1e-4):
        return ("exp(-age / half_life) halves too slowly: a review one half-life old should weigh "
                "exactly half as much as the newest one")
    if np.allclose(got, _unit(vectors.mean(axis=0)), atol=1e-4):
        return "that is the plain mean: weigh each review by its recency"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 1, "recency_interest_vector", "recency-weighted interest vector (half-life in days)")
def check_recency_interest_vector(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(RECENCY_CASES)]
    rng = hidden_rng(606)
    for number in range(8):
        n, dim = int(rng.integers(1, 9)), int(rng.integers(3, 9))
        vectors = rng.normal(size=(n, dim))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        timestamps = (
            1_300_000_000 + rng.integers(0, 800, size=n) * DAY + rng.integers(0, DAY, size=n)
        )
        half_life = float(rng.uniform(3, 365))
        given.append((f"hidden case {number + 1}", vectors, timestamps, half_life,
                      reference_interest_vector(vectors, timestamps, half_life)))
    for case, vectors, timestamps, half_life, expected in given:
        expected = np.asarray(expected, float)
        result = cases.call(np.asarray(vectors, np.float32), np.asarray(timestamps, np.int64),
                            half_life, case=case)
        try:
            got = np.asarray(result, float)
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: return a NumPy vector, got {describe(result, 80)}") from None
        if got.shape != expected.shape:
            raise cases.fail(f"{case}: return one vector of shape [dim] = {list(expected.shape)}, "
                             f"got shape {list(got.shape)}")
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(
                f"{case}: " + _recency_hint(vectors, timestamps, half_life, got, expected)
            )
        cases.passed()


# --------------------------------------------------------------------- task 2: ndcg_at_k

LOG3 = np.log2(3.0)
# (ranked, relevant, k, expected), binary gains, DCG = sum over hits of 1 / log2(rank + 1):
NDCG_CASES = [
    ([3, 1, 2], {1}, 3, 1 / LOG3),  # the hit at rank 2: 1 / log2(3) = 0.6309
    ([3, 1, 2], {3, 2}, 3, 1.5 / (1 + 1 / LOG3)),  # (1 + 1/2) / (1 + 1/log2 3) = 0.9197
    ([5, 6, 7, 1], {1}, 3, 0.0),  # the only hit is at rank 4, beyond k
    ([1, 2, 7, 8], {1, 2, 3, 4}, 2, 1.0),  # both of the top 2 are hits: the ideal has 2 items
    ([4, 2], {4, 2, 9}, 5, (1 + 1 / LOG3) / (1 + 1 / LOG3 + 0.5)),  # ideal over 3 hits: 0.7654
    ([8], {8}, 1, 1.0),
]


def reference_ndcg(ranked_items, relevant_items, k: int) -> float:
    """NDCG@k of one list through the package's full-ranking metric: the ranked items get
    decreasing scores, every other item -inf, so the package ranks them in the same order."""
    ranked = [int(i) for i in ranked_items]
    relevant = [int(i) for i in relevant_items]
    scores = np.full((1, max(ranked + relevant) + 1), -np.inf)
    scores[0, ranked] = np.arange(len(ranked), 0, -1)
    return metrics.ndcg_at_k(scores, [relevant], k=k)


def _ndcg_hint(ranked, relevant, k: int, got: float, expected: float) -> str:
    hits = [rank for rank, item in enumerate(ranked, start=1) if item in relevant]
    top_hits = [rank for rank in hits if rank <= k]

    def idcg(n):
        return sum(1 / np.log2(r + 1) for r in range(1, n + 1))

    dcg = sum(1 / np.log2(r + 1) for r in top_hits)
    if not np.isfinite(got):
        return (
            "the result is not finite: ranks count from 1, so the first discount is 1 / log2(2) = 1"
        )
    if got == 0 and expected > 0:
        return ("a hit in the top k counted for nothing: do your ranks count from 1? The first "
                "discount is 1 / log2(1 + 1) = 1")
    reciprocal = sum(1 / r for r in top_hits) / sum(
        1 / r for r in range(1, min(k, len(relevant)) + 1)
    )
    if top_hits and np.isclose(got, reciprocal):
        return "that discount is 1 / rank; NDCG discounts a hit at rank r by 1 / log2(r + 1)"
    if np.isclose(got, dcg) and not np.isclose(dcg, expected):
        return "that is the DCG; divide it by the ideal DCG (all relevant items ranked first)"
    if top_hits and np.isclose(got, dcg / idcg(len(relevant))):
        return ("the ideal list has at most k items: the ideal DCG sums over min(k, number "
                "relevant) ranks")
    if np.isclose(got, sum(1 / np.log2(r + 1) for r in hits) / idcg(min(k, len(relevant)))):
        return "only the first k ranks count"
    return (f"for ranked={ranked}, relevant={sorted(relevant)}, k={k} expected {expected:.4f}, "
            f"got {got:.4f}")


@check(LESSON, 2, "ndcg_at_k", "NDCG@k of one ranked list (binary gains, log2 discount)")
def check_ndcg_at_k(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(NDCG_CASES)]
    rng = hidden_rng(707)
    for number in range(12):
        ranked = rng.permutation(40)[: int(rng.integers(1, 25))]
        relevant = set(rng.choice(40, size=int(rng.integers(1, 5)), replace=False).tolist())
        k = int(rng.choice([1, 3, 5, 10, 20]))
        given.append(
            (f"hidden case {number + 1}", ranked, relevant, k, reference_ndcg(ranked, relevant, k))
        )
    for index, (case, ranked, relevant, k, expected) in enumerate(given):
        ranked_argument = np.asarray(ranked) if index % 2 else [int(i) for i in ranked]
        result = cases.call(ranked_argument, set(relevant), k,
                            case=f"{case} (ranked={describe(list(map(int, ranked)), 50)}, "
                                 f"relevant={sorted(relevant)}, k={k})")
        try:
            got = float(result)
        except (TypeError, ValueError):
            raise cases.fail(
                f"{case}: return one number (a float), got {describe(result, 80)}"
            ) from None
        if not np.isclose(got, expected, atol=1e-6):
            ranked_list = [int(i) for i in ranked]
            raise cases.fail(f"{case}: " + _ndcg_hint(ranked_list, set(relevant), k, got, expected))
        cases.passed()


# -------------------------------------------------------------------- task 3: recommend_top_k

# Cosines with the user (1, 0): item 0 (1, 0) -> 1 (but seen); 1 (2, 2) -> 0.7071;
# 2 (0, 3) -> 0; 3 (0.9, 0.1) -> 0.9939; 4 (-1, 0) -> -1. Dot products would put item 1
# (2.0) above item 3 (0.9): its vector is long, not close.
TOPK_USER = [1.0, 0.0]
TOPK_ITEMS = [[1.0, 0.0], [2.0, 2.0], [0.0, 3.0], [0.9, 0.1], [-1.0, 0.0]]
TOPK_CASES = [([0], 3, [3, 1, 2]), ([0], 4, [3, 1, 2, 4]), ([0, 3], 3, [1, 2, 4]), ([], 1, [0]),
              ([0], 2, [3, 1])]


def reference_top_k(user_vector, item_vectors, seen_items, k: int) -> np.ndarray:
    """Top k by cosine similarity with the seen items masked, by the package's ``topk_items``."""
    items = np.asarray(item_vectors, float)
    user = np.asarray(user_vector, float)
    cosine = items @ user / (np.linalg.norm(items, axis=1) * np.linalg.norm(user))
    return metrics.topk_items(cosine[np.newaxis, :], k, exclude=[list(seen_items)])[0]


def _top_k_hint(user, items, seen, k: int, got: list, expected: list) -> str:
    if len(got) != k:
        return f"return exactly k = {k} item indices, got {len(got)}"
    if set(got) & set(seen):
        return (f"item {sorted(set(got) & set(seen))[0]} was already seen (it is in seen_items): "
                "never recommend a seen item")
    items, user = np.asarray(items, float), np.asarray(user, float)
    masked = items @ user
    masked[list(seen)] = -np.inf
    if got == np.argsort(-masked, kind="stable")[:k].tolist():
        return ("those are the best dot products; cosine similarity divides by the lengths of "
                "the vectors, so a long item vector does not win by length alone")
    if sorted(got) == sorted(expected):
        return "the right items in the wrong order: best first (highest similarity first)"
    return f"expected {expected}, got {got}"


@check(LESSON, 3, "recommend_top_k", "top-k items by cosine similarity, seen items masked")
def check_recommend_top_k(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", TOPK_USER, TOPK_ITEMS, seen, k, expected)
             for n, (seen, k, expected) in enumerate(TOPK_CASES)]
    rng = hidden_rng(808)
    for number in range(8):
        n_items, dim = int(rng.integers(12, 60)), int(rng.integers(2, 9))
        items = rng.normal(size=(n_items, dim)) * rng.uniform(0.1, 10, size=(n_items, 1))
        user = rng.normal(size=dim) * rng.uniform(0.1, 5)
        seen = sorted(rng.choice(n_items, size=int(rng.integers(0, 10)), replace=False).tolist())
        k = int(rng.integers(1, min(11, n_items - len(seen) + 1)))  # k unseen items exist
        given.append((f"hidden case {number + 1}", user, items, seen, k,
                      reference_top_k(user, items, seen, k).tolist()))
    for case, user, items, seen, k, expected in given:
        result = cases.call(
            np.asarray(user, np.float32),
            np.asarray(items, np.float32),
            list(seen),
            k,
            case=f"{case} (k={k}, seen={seen})",
        )
        try:
            got = np.asarray(result).ravel()
            if got.size and not np.all(np.mod(got.astype(float), 1) == 0):
                raise ValueError
            got = got.astype(int).tolist()
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: return the item indices (ints), best first; got "
                             f"{describe(result, 80)}") from None
        if got != expected:
            raise cases.fail(f"{case}: " + _top_k_hint(user, items, seen, k, got, expected))
        cases.passed()
