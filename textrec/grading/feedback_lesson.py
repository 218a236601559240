"""Checks for the exercises of lesson 09, explanations and the feedback loop.

Task 1 ``cited_review(review_vectors, weights, item_vector)``: the review whose contribution
``w_k r_k . v`` to the score is largest (ties: the first); rows without a vector or with weight
0 are never cited; -1 when no row is usable.
Task 2 ``removal_drops(review_vectors, item_vector)``: for each review, how much
``cos(u, v)`` falls when it is left out of the mean interest vector ``u`` (a vector left at
zero scores 0).
Task 3 ``interest_vector_at(review_vectors, timestamps, time)``: the unit mean of the reviews
written strictly before ``time`` (zeros when there are none): the live update that never reads
the interaction it predicts.

References: :func:`textrec.feedback.cited_review`, :func:`textrec.feedback.removal_drops` (unit
weights) and the replay's interest vectors (:meth:`textrec.feedback.Replay.interest_vectors`).
"""

from __future__ import annotations

import numpy as np

from textrec.feedback import explain
from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng
from textrec.interests import vectors as vectors_module

LESSON = "09_explanations_feedback"


def reference_cited_review(review_vectors, weights, item_vector) -> int:
    return explain.cited_review(review_vectors, weights, item_vector)


def reference_removal_drops(review_vectors, item_vector) -> np.ndarray:
    review_vectors = np.asarray(review_vectors, float)
    return explain.removal_drops(review_vectors, np.ones(len(review_vectors)), item_vector)


def reference_interest_vector_at(review_vectors, timestamps, time) -> np.ndarray:
    review_vectors = np.asarray(review_vectors, np.float32)
    before = np.asarray(timestamps) < time
    keys = np.zeros(int(before.sum()), np.int64)
    return vectors_module.weighted_mean_vectors(keys, review_vectors[before],
                                                np.ones(int(before.sum())), ids=[0]).vectors[0]


def _unit_rows(rng, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# -------------------------------------------------------------------- task 1: cited_review

# Item vector v = (1, 0). Reviews (0.6, 0.8), (1, 0), (0.8, 0.6): r . v = 0.6, 1.0, 0.8.
# Weights (1, 1, 2): contributions 0.6, 1.0, 1.6 -> review 2. Weights (1, 1, 1): review 1.
# Weights (1, 0, 1): review 1 has weight 0 and is never cited -> review 2 (0.8).
# A zero vector is never cited, even when every other contribution is negative.
CITED_CASES = [
    ([[0.6, 0.8], [1.0, 0.0], [0.8, 0.6]], [1, 1, 2], [1.0, 0.0], 2),
    ([[0.6, 0.8], [1.0, 0.0], [0.8, 0.6]], [1, 1, 1], [1.0, 0.0], 1),
    ([[0.6, 0.8], [1.0, 0.0], [0.8, 0.6]], [1, 0, 1], [1.0, 0.0], 2),
    ([[0.0, 0.0], [-1.0, 0.0]], [1, 1], [1.0, 0.0], 1),
    ([[0.0, 0.0]], [1], [1.0, 0.0], -1),
]


def _cited_hint(vectors, weights, item_vector, got) -> str:
    expected = reference_cited_review(vectors, weights, item_vector)
    plain = vectors @ item_vector
    if 0 <= got < len(vectors) and (not np.any(vectors[got]) or weights[got] == 0):
        return "a review without a vector (all zeros) or with weight 0 may not be cited"
    if got == int(np.argmax(plain)) and got != expected:
        return "multiply each review's r . v by its weight w_k: the contribution is w_k r_k . v"
    if expected >= 0 and got == int(np.argmin(weights * plain)):
        return "cite the largest contribution, not the smallest"
    if expected == -1:
        return "no review has a vector and a non-zero weight: return -1"
    return f"expected review {expected}, got {describe(got, 40)}"


@check(LESSON, 1, "cited_review", "the review that adds most to the score")
def check_cited_review(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(CITED_CASES)]
    rng = hidden_rng(909)
    for number in range(6):
        n, dim = int(rng.integers(2, 25)), int(rng.integers(2, 16))
        vectors = _unit_rows(rng, n, dim)
        vectors[rng.random(n) < 0.15] = 0.0
        weights = rng.choice([0.0, 0.5, 1.0, 2.0], n)
        item = _unit_rows(rng, 1, dim)[0]
        given.append((f"hidden case {number + 1} ({n} reviews)", vectors, weights, item,
                      reference_cited_review(vectors, weights, item)))
    for case, vectors, weights, item, expected in given:
        vectors, weights = np.asarray(vectors, float), np.asarray(weights, float)
        item = np.asarray(item, float)
        got = cases.call(vectors.copy(), weights.copy(), item.copy(), case=case)
        if np.ndim(got) != 0 or not float(got).is_integer():
            raise cases.fail(f"{case}: return one row index (an int), got {describe(got, 80)}")
        if int(got) != expected:
            raise cases.fail(f"{case}: " + _cited_hint(vectors, weights, item, int(got)))
        cases.passed()


# ------------------------------------------------------------------- task 2: removal_drops

# Reviews (1, 0) and (0, 1), item (1, 0): u = (1, 1) / sqrt 2, cos(u, v) = 0.7071. Without the
# first review u = (0, 1), cos 0: drop 0.7071; without the second u = (1, 0), cos 1: drop -0.2929.
# One review: leaving it out leaves nothing, which scores 0: drop = cos(r, v) = 0.6.
DROP_CASES = [
    ([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5) - 1]),
    ([[0.6, 0.8]], [0.0, 1.0], [0.8]),
]


def _drop_hint(vectors, item, got) -> str:
    expected = reference_removal_drops(vectors, item)
    if np.allclose(got, -expected, atol=1e-6):
        return "the drop is the full score minus the score without the review, not the reverse"
    if np.allclose(got, vectors @ item / len(vectors), atol=1e-6):
        return ("rebuild u without the review and scale it to unit length; r . v / n ignores the "
                "normalisation")
    total = vectors.sum(axis=0)
    unnormalised = total @ item - (total - vectors) @ item
    if np.allclose(got, unnormalised, atol=1e-6):
        return "scale u to unit length before the dot product: the score is a cosine"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 2, "removal_drops", "the score drop when a review is left out")
def check_removal_drops(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(DROP_CASES)]
    rng = hidden_rng(919)
    for number in range(6):
        n, dim = int(rng.integers(2, 20)), int(rng.integers(2, 12))
        vectors, item = _unit_rows(rng, n, dim), _unit_rows(rng, 1, dim)[0]
        given.append((f"hidden case {number + 1} ({n} reviews)", vectors, item,
                      reference_removal_drops(vectors, item)))
    for case, vectors, item, expected in given:
        vectors, item = np.asarray(vectors, float), np.asarray(item, float)
        expected = np.asarray(expected, float)
        result = cases.call(vectors.copy(), item.copy(), case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.allclose(got, expected, atol=1e-5):
            raise cases.fail(f"{case}: " + _drop_hint(vectors, item, got))
        cases.passed()


# -------------------------------------------------------------- task 3: interest_vector_at

# Reviews (1, 0) at t=1, (0, 1) at t=2, (1, 0) at t=3. At time 3: the first two only (the review
# at t=3 is the one being predicted, written at that moment): (1, 1) / sqrt 2. At time 1: none,
# zeros. At time 10: (2, 1) / sqrt 5.
AT_CASES = [
    ([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [1, 2, 3], 3, [np.sqrt(0.5), np.sqrt(0.5)]),
    ([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [1, 2, 3], 1, [0.0, 0.0]),
    ([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [1, 2, 3], 10, [2 / np.sqrt(5), 1 / np.sqrt(5)]),
]


def _at_hint(vectors, timestamps, time, got) -> str:
    expected = reference_interest_vector_at(vectors, timestamps, time)
    with_now = reference_interest_vector_at(vectors, timestamps, time + 1e-9)
    if (np.asarray(timestamps) == time).any() and np.allclose(got, with_now, atol=1e-5):
        return ("a review written at `time` itself was used: that is the interaction being "
                "predicted (leakage); keep timestamps strictly before `time`")
    if not np.isfinite(got).all():
        return "with no review before `time`, return a zero vector (not NaN)"
    if np.any(expected) and not np.isclose(np.linalg.norm(got), 1.0, atol=1e-4):
        return "scale the mean to unit length"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 3, "interest_vector_at", "a live interest vector that reads only the past")
def check_interest_vector_at(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(AT_CASES)]
    rng = hidden_rng(929)
    for number in range(6):
        n, dim = int(rng.integers(2, 30)), int(rng.integers(2, 12))
        vectors = _unit_rows(rng, n, dim)
        timestamps = rng.integers(0, 20, n)  # repeated days: reviews at `time` itself happen
        time = int(rng.choice(timestamps))
        given.append((f"hidden case {number + 1} ({n} reviews, time {time})", vectors,
                      timestamps, time, reference_interest_vector_at(vectors, timestamps, time)))
    for case, vectors, timestamps, time, expected in given:
        vectors, timestamps = np.asarray(vectors, float), np.asarray(timestamps)
        expected = np.asarray(expected, float)
        result = cases.call(vectors.copy(), timestamps.copy(), time, case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.allclose(got, expected, atol=1e-5):
            raise cases.fail(f"{case}: " + _at_hint(vectors, timestamps, time, got))
        cases.passed()
