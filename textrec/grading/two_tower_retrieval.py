"""Checks for the exercises of lesson 04, two-tower retrieval.

Task 1 ``in_batch_softmax_loss(query_embeddings, candidate_embeddings, temperature)``: the mean
cross-entropy of the in-batch softmax (row i's positive is candidate i).
Task 2 ``logq_correct(logits, sampling_probabilities)``: logits minus the log of each
candidate's sampling probability.
Task 3 ``top_k_unseen(scores, seen, k)``: each user's k best items, seen items excluded.

References: :func:`tf.nn.sparse_softmax_cross_entropy_with_logits` on the same batch (what
``tfrs.tasks.Retrieval`` computes), ``tfrs.layers.loss.SamplingProbablityCorrection`` (the
correction :class:`textrec.models.retrieval.TwoTowerModel` applies) and
:func:`textrec.evaluation.metrics.topk_items`.
"""

from __future__ import annotations

import numpy as np

from textrec.evaluation import metrics
from textrec.grading.checking import Cases, check, describe, hidden_rng

LESSON = "04_two_tower_retrieval"


def _as_array(cases: Cases, case: str, result, what: str) -> np.ndarray:
    try:
        return np.asarray(result, float)
    except (TypeError, ValueError):
        raise cases.fail(f"{case}: return {what}, got {describe(result, 80)}") from None


# ------------------------------------------------------------ task 1: in_batch_softmax_loss

# 1. Two queries, two candidates, identity embeddings, temperature 1: logits [[1, 0], [0, 1]];
#    each row's loss is -log(e / (e + 1)) = log(1 + 1/e) = 0.3133.
# 2. The same at temperature 0.5: logits doubled, log(1 + e^-2) = 0.1269.
# 3. Query 0 matches candidate 1 better: logits [[0, 2], [0, 1]] ->
#    (log(1 + e^2) + log(1 + e^-1)) / 2 = (2.1269 + 0.3133) / 2 = 1.2201.
LOSS_CASES = [
    ([[1, 0], [0, 1]], [[1, 0], [0, 1]], 1.0, 0.3132617),
    ([[1, 0], [0, 1]], [[1, 0], [0, 1]], 0.5, 0.1269280),
    ([[0, 2], [0, 1]], [[1, 0], [0, 1]], 1.0, (np.log1p(np.exp(2)) + np.log1p(np.exp(-1))) / 2),
]


def reference_in_batch_loss(queries, candidates, temperature: float) -> float:
    """Mean softmax cross-entropy of ``q @ c^T / temperature`` with labels on the diagonal."""
    import tensorflow as tf

    logits = tf.constant(np.asarray(queries, np.float64) @ np.asarray(candidates, np.float64).T
                         / temperature)
    labels = tf.range(tf.shape(logits)[0])
    return float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)))


def _xent(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.diag(log_softmax)


def _loss_hint(q, c, t: float, got: float, expected: float) -> str:
    logits = q @ c.T
    if np.isclose(got, _xent(logits / t).sum(), rtol=1e-4):
        return "that is the sum over the batch: take the mean"
    if t != 1 and np.isclose(got, _xent(logits * t).mean(), rtol=1e-4):
        return "divide the logits by the temperature (a small temperature sharpens the softmax)"
    if t != 1 and np.isclose(got, _xent(logits).mean(), rtol=1e-4):
        return "the temperature was ignored: divide the logits by it"
    if np.isclose(got, _xent(logits.T / t).mean(), rtol=1e-4):
        return ("the softmax ran over queries; each query's softmax is over the candidates: "
                "logits = q @ c^T, one row per query")
    return f"expected {expected:.4f}, got {got:.4f}"


@check(LESSON, 1, "in_batch_softmax_loss", "in-batch softmax loss with a temperature")
def check_in_batch_softmax_loss(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(LOSS_CASES)]
    rng = hidden_rng(404)
    for number in range(6):
        n, dim = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        q, c = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
        t = float(rng.choice([1.0, 0.2, 0.5, 2.0])) if number else 0.3
        given.append((f"hidden case {number + 1}", q, c, t, reference_in_batch_loss(q, c, t)))
    for case, q, c, t, expected in given:
        q, c = np.asarray(q, np.float32), np.asarray(c, np.float32)
        got = _as_array(cases, case, cases.call(q.copy(), c.copy(), t, case=case), "one number")
        if got.size != 1:
            raise cases.fail(
                f"{case}: return one number (the mean loss), got shape {list(got.shape)}"
            )
        got = float(got.reshape(()))
        if not np.isclose(got, expected, rtol=1e-4, atol=1e-5):
            raise cases.fail(
                f"{case}: " + _loss_hint(q.astype(float), c.astype(float), t, got, expected)
            )
        cases.passed()


# ---------------------------------------------------------------------- task 2: logq_correct

# logits [[2, 1]] and probabilities (0.5, 0.25): 2 - log 0.5 = 2.6931, 1 - log 0.25 = 2.3863;
# a frequent item gains less than a rare one.
LOGQ_CASES = [
    ([[2.0, 1.0]], [0.5, 0.25], [[2.6931472, 2.3862944]]),
    ([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [1.0, 0.1, 0.01],
     [[0.0, 2.3025851, 4.6051702], [1.0, 3.3025851, 5.6051702]]),
]


def reference_logq(logits, probabilities) -> np.ndarray:
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    corrected = tfrs.layers.loss.SamplingProbablityCorrection()(
        tf.constant(np.asarray(logits, np.float64)),
        tf.constant(np.asarray(probabilities, np.float64)),
    )
    return corrected.numpy()


def _logq_hint(logits, p, got) -> str:
    if np.allclose(got, logits + np.log(p), atol=1e-4):
        return ("the correction went the wrong way: subtract log(p), so frequent items lose their "
                "head start")
    if np.allclose(got, logits - p, atol=1e-4):
        return "subtract the log of the probability, not the probability itself"
    if np.allclose(got, logits / p, atol=1e-4) or np.allclose(got, logits * p, atol=1e-4):
        return "the correction is additive in logit space: logits - log(p)"
    if got.shape == logits.shape and logits.shape[0] == logits.shape[1] and np.allclose(
            got, logits - np.log(p)[:, None], atol=1e-4):
        return "p belongs to the candidates, the columns: subtract log(p[j]) from column j"
    return f"expected {np.round(logits - np.log(p), 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 2, "logq_correct", "log-Q correction of in-batch logits")
def check_logq_correct(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(LOGQ_CASES)]
    rng = hidden_rng(4040)
    for number in range(6):
        n = int(rng.integers(2, 8))
        logits = rng.normal(scale=2, size=(n, n))
        p = rng.dirichlet(np.ones(n) * 0.7) * 0.98 + 0.02 / n
        given.append((f"hidden case {number + 1}", logits, p, reference_logq(logits, p)))
    for case, logits, p, expected in given:
        logits, p, expected = (
            np.asarray(logits, np.float32),
            np.asarray(p, np.float32),
            np.asarray(expected),
        )
        got = _as_array(
            cases, case, cases.call(logits.copy(), p.copy(), case=case), "an array of logits"
        )
        if got.shape != expected.shape:
            raise cases.fail(
                f"{case}: return the corrected logits, shape {list(expected.shape)}, "
                f"got shape {list(got.shape)} (p has one entry per candidate, a column)"
            )
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(f"{case}: " + _logq_hint(logits.astype(float), p.astype(float), got))
        cases.passed()


# ---------------------------------------------------------------------- task 3: top_k_unseen

# scores of 2 users over 5 items; user 0 saw item 1, user 1 saw items 0 and 4.
TOPK_SCORES = [[0.1, 0.9, 0.5, 0.7, 0.2], [0.8, 0.3, 0.6, 0.1, 0.9]]
TOPK_CASES = [
    (TOPK_SCORES, [[1], [0, 4]], 2, [[3, 2], [2, 1]]),
    (TOPK_SCORES, [[], []], 3, [[1, 3, 2], [4, 0, 2]]),
    (TOPK_SCORES, [[1, 3], [4]], 1, [[2], [0]]),
]


def reference_top_k_unseen(scores, seen, k: int) -> np.ndarray:
    return metrics.topk_items(np.asarray(scores, float), k, exclude=[list(s) for s in seen])


def _topk_hint(scores, seen, k: int, got, expected) -> str:
    plain = metrics.topk_items(scores, k)
    if got.shape == plain.shape and np.array_equal(got, plain):
        return "a seen item was recommended: give the seen items a score of -inf first"
    if got.shape == expected.shape and np.array_equal(got, np.sort(expected, axis=1)):
        return "the right items but not in order: best first"
    worst = metrics.topk_items(-np.asarray(scores), k, exclude=[list(s) for s in seen])
    if got.shape == worst.shape and np.array_equal(got, worst):
        return "those are the lowest scores: take the highest"
    return f"expected {expected.tolist()}, got {got.tolist()}"


@check(LESSON, 3, "top_k_unseen", "top k per user with seen items excluded")
def check_top_k_unseen(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(TOPK_CASES)]
    rng = hidden_rng(44)
    for number in range(6):
        n_users, n_items = int(rng.integers(1, 6)), int(rng.integers(6, 30))
        scores = rng.normal(size=(n_users, n_items))
        seen = [
            sorted(
                rng.choice(n_items, size=int(rng.integers(0, n_items // 2)), replace=False).tolist()
            )
            for _ in range(n_users)
        ]
        k = int(rng.integers(1, n_items - n_items // 2 + 1))
        given.append(
            (f"hidden case {number + 1}", scores, seen, k, reference_top_k_unseen(scores, seen, k))
        )
    for case, scores, seen, k, expected in given:
        scores, expected = np.asarray(scores, np.float32), np.asarray(expected)
        result = cases.call(scores.copy(), [list(s) for s in seen], k, case=case)
        try:
            got = np.asarray(result)
            got = got.astype(np.int64) if np.issubdtype(got.dtype, np.number) else got
        except (TypeError, ValueError):
            raise cases.fail(
                f"{case}: return an array of item indices, got {describe(result, 80)}"
            ) from None
        if got.shape != expected.shape:
            raise cases.fail(
                f"{case}: return item indices of shape [users, k] = {list(expected.shape)}, "
                f"got shape {list(got.shape)}"
            )
        if not np.array_equal(got, expected):
            raise cases.fail(f"{case}: " + _topk_hint(scores, seen, k, got, expected))
        cases.passed()
