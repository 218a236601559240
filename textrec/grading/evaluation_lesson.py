"""Checks for the exercises of lesson 06, evaluation.

Task 1 ``ease_weights(interactions, l2)``: EASE's closed form ``B = I - P / diag(P)`` with
``P = (X^T X + l2 I)^-1``, each column j divided by ``P[j, j]``.
Task 2 ``bootstrap_interval(values, confidence, n_resamples, seed)``: (mean, low, high), the
mean of the non-NaN per-user values and its seeded percentile bootstrap interval.
Task 3 ``target_rank(scores, target, candidates)``: the rank of the target among itself and the
candidate items, ``1 + #(higher) + #(equal) / 2``; with all items as candidates it is the full
rank, with 100 random ones the sampled rank.

References: :func:`textrec.models.ease_weights`,
:func:`textrec.evaluation.uncertainty.bootstrap_ci` and
:func:`textrec.evaluation.sampled.sampled_ranks` (given every candidate and nothing else).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from textrec.evaluation import sampled, uncertainty
from textrec.models import item_based
from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng

LESSON = "06_evaluation"


def reference_ease_weights(interactions, l2: float) -> np.ndarray:
    return item_based.ease_weights(np.asarray(interactions), l2)


def reference_bootstrap_interval(values, confidence: float = 0.95, n_resamples: int = 1000,
                                 seed: int = 0) -> tuple[float, float, float]:
    return uncertainty.bootstrap_ci(values, confidence, n_resamples, seed)


def reference_target_rank(scores, target: int, candidates) -> float:
    """The package's sampled rank, with the candidates as the only items it may draw."""
    scores = np.asarray(scores, float).ravel()
    n_items = scores.size
    targets = sp.csr_matrix(([1.0], ([0], [int(target)])), shape=(1, n_items))
    blocked = np.ones((1, n_items))
    blocked[0, np.asarray(candidates, int)] = 0
    ranks = sampled.sampled_ranks(scores[None, :], targets, exclude=sp.csr_matrix(blocked),
                                  n_negatives=n_items)
    return float(ranks[0])


# -------------------------------------------------------------------- task 1: ease_weights

# Two users, three items: X = [[1, 1, 0], [0, 1, 1]], l2 = 1. X^T X + I = [[2, 1, 0], [1, 3, 1],
# [0, 1, 2]], its inverse P = [[5, -2, 1], [-2, 4, -2], [1, -2, 5]] / 8, and
# B[i, j] = -P[i, j] / P[j, j]: column 0 is (0, 2/5, -1/5), column 1 (1/2, 0, 1/2).
EASE_CASES = [
    ([[1, 1, 0], [0, 1, 1]], 1.0,
     [[0.0, 0.5, -0.2], [0.4, 0.0, 0.4], [-0.2, 0.5, 0.0]]),
]


def _ease_hint(x: np.ndarray, l2: float, got: np.ndarray) -> str:
    expected = reference_ease_weights(x, l2)
    gram = x.T @ x
    precision = np.linalg.inv(gram + l2 * np.eye(len(gram)))
    by_rows = np.eye(len(gram)) - precision / np.diag(precision)[:, None]
    if np.allclose(got, by_rows, atol=1e-6):
        return "each row was divided by its P[i, i]: divide each column j by P[j, j]"
    if np.allclose(got, -precision / np.diag(precision), atol=1e-6):
        return "the diagonal should be 0: B is the identity minus P / diag(P)"
    if not np.allclose(np.diag(got), 0, atol=1e-6):
        return "the diagonal of B should be 0 (an item may not predict itself)"
    if l2 != 1.0 and np.allclose(got, item_based.ease_weights(x, 1.0), atol=1e-6):
        return "l2 was ignored: add l2 (not 1) to the diagonal of X^T X before inverting"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 1, "ease_weights", "EASE's closed form B = I - P / diag(P)")
def check_ease_weights(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(EASE_CASES)]
    rng = hidden_rng(606)
    for number in range(5):
        n_users, n_items = int(rng.integers(4, 30)), int(rng.integers(3, 12))
        x = (rng.random((n_users, n_items)) < 0.3).astype(float)
        l2 = float(rng.choice([0.5, 2.0, 10.0, 50.0]))
        given.append((f"hidden case {number + 1} (l2={l2})", x, l2, reference_ease_weights(x, l2)))
    for case, x, l2, expected in given:
        x, expected = np.asarray(x, float), np.asarray(expected, float)
        result = cases.call(x.copy(), l2, case=case)
        if np.shape(result) == (len(x), len(x)) != expected.shape:
            raise cases.fail(f"{case}: B is [items, items]: start from X^T X, not X X^T")
        got = as_array(cases, case, result, expected.shape)
        if not np.allclose(got, expected, atol=1e-6):
            raise cases.fail(f"{case}: " + _ease_hint(x, l2, got))
        cases.passed()


# ------------------------------------------------------------------- task 2: bootstrap_interval

# Values (0, 1, NaN, 1): the NaN user is dropped, the mean is 2/3. Every resample of three 0/1
# values has a mean in {0, 1/3, 2/3, 1}, so the interval's ends are among them.
INTERVAL_CASES = [([0.0, 1.0, np.nan, 1.0], 0.9, 200, 0)]


def _interval_hint(values: np.ndarray, confidence: float, n_resamples: int, seed: int,
                   got: tuple) -> str:
    finite = values[~np.isnan(values)]
    mean, low, high = reference_bootstrap_interval(values, confidence, n_resamples, seed)
    if not np.isclose(got[0], mean, atol=1e-9):
        if np.isnan(got[0]):
            return "the mean is NaN: drop the NaN values (users without a target) first"
        return f"the first value should be the mean of the values, {mean:.4f}, got {got[0]:.4f}"
    means = uncertainty.bootstrap_means(finite, n_resamples, seed)
    if np.allclose(got[1:], np.percentile(means, [(1 - confidence) * 100, confidence * 100])):
        return (
            "the interval is too narrow: cut (1 - confidence) / 2 off each tail, not 1 - confidence"
        )
    swapped = np.percentile(means, [confidence * 100, (1 - confidence) * 100])[::-1]
    if np.allclose(got[1:], swapped) or got[1] > got[2]:
        return "return (mean, low, high) with low <= high"
    spread = finite.std() / np.sqrt(finite.size)
    if np.allclose(got[1:], (mean - 1.96 * spread, mean + 1.96 * spread), atol=1e-3):
        return "that is the normal approximation: take percentiles of the bootstrap means"
    return (f"expected the interval ({low:.4f}, {high:.4f}), got ({got[1]:.4f}, {got[2]:.4f}): "
            "draw indices with np.random.default_rng(seed).integers(0, n, size=(n_resamples, n)) "
            "and take np.percentile of the resample means")


@check(LESSON, 2, "bootstrap_interval", "a seeded percentile bootstrap interval of a mean")
def check_bootstrap_interval(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(INTERVAL_CASES)]
    rng = hidden_rng(66)
    for number in range(5):
        n = int(rng.integers(5, 300))
        values = (rng.random(n) < rng.uniform(0.1, 0.6)) / np.log2(rng.integers(2, 12, n))
        values[rng.random(n) < 0.1] = np.nan
        values[0] = 1.0
        given.append((f"hidden case {number + 1} ({n} users)", values,
                      float(rng.choice([0.8, 0.9, 0.95])), int(rng.integers(100, 800)),
                      int(rng.integers(0, 1000))))
    for case, values, confidence, n_resamples, seed in given:
        values = np.asarray(values, float)
        result = cases.call(values.copy(), confidence, n_resamples, seed, case=case)
        try:
            got = tuple(float(v) for v in result)
        except (TypeError, ValueError):
            got = ()
        if len(got) != 3:
            raise cases.fail(
                f"{case}: return a tuple (mean, low, high), got {describe(result, 80)}"
            )
        again = cases.call(values.copy(), confidence, n_resamples, seed, case=case)
        if not np.allclose(got, tuple(float(v) for v in again), equal_nan=True):
            raise cases.fail(f"{case}: the same seed gave different intervals: draw from "
                             "np.random.default_rng(seed)")
        expected = reference_bootstrap_interval(values, confidence, n_resamples, seed)
        if not np.allclose(got, expected, atol=1e-9):
            raise cases.fail(
                f"{case}: " + _interval_hint(values, confidence, n_resamples, seed, got)
            )
        cases.passed()


# --------------------------------------------------------------------- task 3: target_rank

# Scores (0.9, 0.5, 0.7, 0.5, 0.1): item 0 scores best, rank 1. Target item 1 (score 0.5): among
# all the other items, 2 higher (items 0 and 2) and 1 equal (item 3): rank 1 + 2 + 1/2 = 3.5.
# Among items 3 and 4 only: rank 1 + 0 + 1/2 = 1.5. Among item 4 only: rank 1.
RANK_CASES = [
    ([0.9, 0.5, 0.7, 0.5, 0.1], 0, [1, 2, 3, 4], 1.0),
    ([0.9, 0.5, 0.7, 0.5, 0.1], 1, [0, 2, 3, 4], 3.5),
    ([0.9, 0.5, 0.7, 0.5, 0.1], 1, [3, 4], 1.5),
    ([0.9, 0.5, 0.7, 0.5, 0.1], 1, [4], 1.0),
]


def _rank_hint(scores: np.ndarray, target: int, candidates: np.ndarray, got: float) -> str:
    others = scores[candidates]
    higher, equal = (others > scores[target]).sum(), (others == scores[target]).sum()
    lower = (others < scores[target]).sum()
    if np.isclose(got, higher + equal / 2):
        return "the best rank is 1, not 0: add 1"
    if equal and np.isclose(got, 1 + higher + equal):
        return "a tie should count half: add #equal / 2, not #equal"
    if equal and np.isclose(got, 1 + higher):
        return "ties were not counted: an equal score counts half (#equal / 2)"
    if np.isclose(got, 1 + lower + equal / 2):
        return "a higher score ranks first: count the candidates scored above the target"
    all_others = np.delete(scores, target)
    if np.isclose(got, 1 + (all_others > scores[target]).sum()
                  + (all_others == scores[target]).sum() / 2):
        return "rank only among the candidates, not among all items"
    return f"expected rank {reference_target_rank(scores, target, candidates)}, got {got}"


@check(LESSON, 3, "target_rank", "the target's rank among the candidates, ties counting half")
def check_target_rank(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case[:3]) for n, case in enumerate(RANK_CASES)]
    rng = hidden_rng(6)
    for number in range(8):
        n_items = int(rng.integers(10, 400))
        scores = rng.integers(0, 12, n_items) / 4  # coarse: ties happen
        target = int(rng.integers(0, n_items))
        others = np.delete(np.arange(n_items), target)
        if number % 2 == 0:  # all the other items: the full rank
            candidates = others
        else:  # a sample, as the sampled metrics draw
            candidates = np.sort(rng.choice(others, size=min(100, others.size // 2), replace=False))
        given.append((f"hidden case {number + 1} ({len(candidates)} candidates of {n_items} items)",
                      scores, target, candidates))
    for n, (case, scores, target, candidates) in enumerate(given):
        scores, candidates = np.asarray(scores, float), np.asarray(candidates, int)
        expected = RANK_CASES[n][3] if n < len(RANK_CASES) else reference_target_rank(
            scores, target, candidates)
        got = cases.call(scores.copy(), target, candidates.copy(), case=case)
        if np.ndim(got) != 0:
            raise cases.fail(f"{case}: return one number, got {describe(got, 80)}")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: return a number, got {describe(got, 80)}") from None
        if not np.isclose(got, expected):
            raise cases.fail(f"{case}: " + _rank_hint(scores, target, candidates, got))
        cases.passed()
