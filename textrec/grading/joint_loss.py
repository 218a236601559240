"""Checks for the exercises of lesson 05, collaborative filtering and the joint loss.

Task 1 ``predict_ratings(mu, user_bias, item_bias, user_factors, item_factors)``: matrix
factorisation's ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i`` for every user and item.
Task 2 ``joint_loss(terms, weights)``: ``w_U L_U + w_A L_A + w_R L_R``, each term the mean of its
per-example losses; a term absent from the batch or with weight 0 does not count at all.
Task 3 ``user_cf_scores(vectors, liked, n_neighbours)``: user-based CF, each user's score of an
item the sum of the cosine similarities of the ``n_neighbours`` most similar other users (with
similarity above 0) who liked it.
Task 4 ``ranking_mf_loss(user_factors, item_factors, item_bias, users, items, l2)``: matrix
factorisation trained to rank, the batch mean over train pairs (u, i) of the softmax
cross-entropy of i among ALL items, scored ``s(u, j) = p_u . q_j + b_j``, plus
``l2 * (|p_u|^2 + |q_i|^2 + b_i^2)``; numerically stable (log-sum-exp with the max subtracted).

References: :meth:`textrec.models.MatrixFactorization.rating_matrix` (with its weights set),
:func:`textrec.models.losses.average_loss` (the mean each term of :class:`textrec.models.JointModel`
takes), :func:`textrec.models.neighbours.neighbour_weights` with
:func:`textrec.models.neighbours.neighbour_scores`, and
:meth:`textrec.models.ImplicitMatrixFactorization.compute_loss` (with its weights set).
"""

from __future__ import annotations

import math

import numpy as np

from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng

LESSON = "05_collaborative_filtering_joint_loss"
TERMS = ("text", "retrieval", "rating")


def reference_predict_ratings(mu, user_bias, item_bias, user_factors, item_factors) -> np.ndarray:
    """The package's biased matrix factorisation with these weights (row 0: unknown ids)."""
    from textrec.models.factorization import MatrixFactorization

    user_factors, item_factors = np.asarray(user_factors, float), np.asarray(item_factors, float)
    users, items = (
        [f"u{n}" for n in range(len(user_factors))],
        [f"i{n}" for n in range(len(item_factors))],
    )
    model = MatrixFactorization(users, items, embedding_dim=user_factors.shape[1], global_mean=mu)
    model.rating_matrix(users[:1], items[:1])  # builds the layers

    def with_unknown_row(values):
        values = np.asarray(values, np.float32).reshape(len(values), -1)
        return [np.concatenate([np.zeros((1, values.shape[1]), np.float32), values])]

    model.user_factors.set_weights(with_unknown_row(user_factors))
    model.item_factors.set_weights(with_unknown_row(item_factors))
    model.user_bias.set_weights(with_unknown_row(user_bias))
    model.item_bias.set_weights(with_unknown_row(item_bias))
    return model.rating_matrix(users, items).astype(float)


def reference_joint_loss(terms: dict, weights: dict) -> float:
    from textrec.models.losses import average_loss

    return float(sum(weights[name] * float(average_loss(np.asarray(terms[name], np.float32)))
                     for name in TERMS if name in terms and weights[name] != 0))


def reference_user_cf_scores(vectors, liked, n_neighbours: int) -> np.ndarray:
    from textrec.models import neighbours

    weights = neighbours.neighbour_weights(np.asarray(vectors, float), n_neighbours, 0.0)
    return neighbours.neighbour_scores(weights, np.asarray(liked, float)).astype(float)


def reference_ranking_mf_loss(user_factors, item_factors, item_bias, users, items,
                              l2: float) -> float:
    """The package's matrix factorisation trained to rank (full softmax) with these weights:
    its training loss on the batch of pairs (``users[n]``, ``items[n]``)."""
    import tensorflow as tf

    from textrec.data import schema
    from textrec.models.factorization import ImplicitMatrixFactorization

    user_factors, item_factors = np.asarray(user_factors, float), np.asarray(item_factors, float)
    user_ids = [f"u{n}" for n in range(len(user_factors))]
    item_ids = [f"i{n}" for n in range(len(item_factors))]
    model = ImplicitMatrixFactorization(user_ids, item_ids, embedding_dim=user_factors.shape[1],
                                        l2=float(l2))
    model.query_model(tf.constant(user_ids[:1]))  # builds the layers
    model.candidate_model(tf.constant(item_ids[:1]))

    def with_unknown_row(values):  # row 0 of the package's tables is the unknown id
        values = np.asarray(values, np.float32).reshape(len(values), -1)
        return [np.concatenate([np.zeros((1, values.shape[1]), np.float32), values])]

    model.query_model.factors.set_weights(with_unknown_row(user_factors))
    model.candidate_model.factors.set_weights(with_unknown_row(item_factors))
    model.candidate_model.bias.set_weights(with_unknown_row(item_bias))
    batch = {schema.USER: tf.constant([user_ids[n] for n in np.asarray(users).ravel()]),
             schema.ITEM: tf.constant([item_ids[n] for n in np.asarray(items).ravel()])}
    return float(model.compute_loss(batch))


# ------------------------------------------------------------------ task 1: predict_ratings

# mu = 3.5, user biases (0.5, -1), item biases (0.25, 0, -0.5), factors p_0 = (1, 0), p_1 = (0, 2),
# q_0 = (1, 1), q_1 = (0, 0), q_2 = (-1, 0.5). User 0, item 0: 3.5 + 0.5 + 0.25 + 1 = 5.25;
# user 1, item 2: 3.5 - 1 - 0.5 + 1 = 3.
MF_CASES = [
    (3.5, [0.5, -1.0], [0.25, 0.0, -0.5], [[1.0, 0.0], [0.0, 2.0]],
     [[1.0, 1.0], [0.0, 0.0], [-1.0, 0.5]], [[5.25, 4.0, 2.5], [4.75, 2.5, 3.0]]),
]


def _mf_hint(mu, bu, bi, p, q, got) -> str:
    dot = p @ q.T
    full = mu + bu[:, None] + bi[None, :] + dot
    if np.allclose(got, full - mu):
        return "add the global mean mu"
    if np.allclose(got, mu + dot):
        return "add the user bias b_u and the item bias b_i"
    if np.allclose(got, full - dot):
        return "add the interaction p_u . q_i (the factors' dot product)"
    return f"expected {np.round(full, 3).tolist()}, got {np.round(got, 3).tolist()}"


@check(LESSON, 1, "predict_ratings", "matrix factorisation's r_hat = mu + b_u + b_i + p_u . q_i")
def check_predict_ratings(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(MF_CASES)]
    rng = hidden_rng(505)
    for number, (n_users, n_items) in enumerate([(4, 4), (3, 7), (9, 5)]):
        dim = int(rng.integers(1, 6))
        parts = (float(rng.uniform(2.5, 4.5)), rng.normal(scale=0.5, size=n_users),
                 rng.normal(scale=0.5, size=n_items), rng.normal(size=(n_users, dim)),
                 rng.normal(size=(n_items, dim)))
        given.append((f"hidden case {number + 1} ({n_users} users, {n_items} items)", *parts,
                       reference_predict_ratings(*parts)))
    for case, mu, bu, bi, p, q, expected in given:
        bu, bi, p, q = (np.asarray(v, float) for v in (bu, bi, p, q))
        expected = np.asarray(expected, float)
        got = as_array(
            cases,
            case,
            cases.call(mu, bu.copy(), bi.copy(), p.copy(), q.copy(), case=case),
            expected.shape,
        )
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(f"{case}: " + _mf_hint(mu, bu, bi, p, q, got))
        cases.passed()


# ------------------------------------------------------------------------ task 2: joint_loss

# Terms (per-example losses) text (0.5, 1.5), retrieval (2, 4), rating (1, 1, 4): means 1, 3 and 2.
# Weights (1, 1, 1): L = 1 + 3 + 2 = 6. Weights (0.5, 1, 0): L = 0.5 + 3 = 3.5. Without the text
# term (a batch without review vectors) and weights (1, 2, 1): L = 6 + 2 = 8.
JOINT_CASES = [
    ({"text": [0.5, 1.5], "retrieval": [2.0, 4.0], "rating": [1.0, 1.0, 4.0]},
     {"text": 1.0, "retrieval": 1.0, "rating": 1.0}, 6.0),
    ({"text": [0.5, 1.5], "retrieval": [2.0, 4.0], "rating": [1.0, 1.0, 4.0]},
     {"text": 0.5, "retrieval": 1.0, "rating": 0.0}, 3.5),
    ({"retrieval": [2.0, 4.0], "rating": [1.0, 1.0, 4.0]},
     {"text": 1.0, "retrieval": 2.0, "rating": 1.0}, 8.0),
]


def _joint_hint(terms: dict, weights: dict, got: float) -> str:
    present = [name for name in TERMS if name in terms and weights[name] != 0]
    if math.isnan(got):
        return ("the loss is NaN: a term with weight 0 must not count at all, even when its "
                "losses are NaN (skip it rather than multiply it by 0)")
    if np.isclose(got, sum(weights[n] * np.sum(terms[n]) for n in present)):
        return "take each term's mean over the batch, not its sum"
    if np.isclose(got, sum(np.mean(terms[n]) for n in present)) or np.isclose(
            got, sum(np.mean(terms[n]) for n in terms)):
        return "multiply each term's mean by its weight"
    pooled = np.concatenate([weights[n] * np.asarray(terms[n]) for n in present])
    if np.isclose(got, np.mean(pooled)):
        return "average each term on its own, then add the weighted means"
    return f"expected {reference_joint_loss(terms, weights):.4f}, got {got:.4f}"


@check(LESSON, 2, "joint_loss", "the weighted joint loss w_U L_U + w_A L_A + w_R L_R")
def check_joint_loss(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}" + ("" if "text" in case[0] else
                                               " (a batch without review vectors: no 'text' term)"),
              *case[:2]) for n, case in enumerate(JOINT_CASES)]
    rng = hidden_rng(55)
    for number in range(6):
        terms = {name: rng.exponential(size=int(rng.integers(2, 40))) for name in TERMS}
        weights = {name: float(rng.choice([0.0, 0.1, 0.5, 1.0, 2.0])) for name in TERMS}
        if number == 1:
            del terms["rating"]
            description = "a batch without ratings"
        elif number >= 3:
            weights["text"] = 0.0
            terms["text"] = np.full(len(terms["text"]), np.nan)
            description = "text weight 0 and NaN text losses"
        else:
            description = "all three terms"
        given.append((f"hidden case {number + 1} ({description})", terms, weights))
    for n, (case, terms, weights) in enumerate(given):
        terms = {name: np.asarray(values, np.float32) for name, values in terms.items()}
        expected = (
            JOINT_CASES[n][2] if n < len(JOINT_CASES) else reference_joint_loss(terms, weights)
        )
        result = cases.call({k: v.copy() for k, v in terms.items()}, dict(weights), case=case)
        try:
            got = float(result)
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: return one number, got {describe(result, 80)}") from None
        if not np.isclose(got, expected, rtol=1e-5):
            raise cases.fail(f"{case}: " + _joint_hint(terms, weights, got))
        cases.passed()


# --------------------------------------------------------------------- task 3: user_cf_scores

# Users 0, 1, 2 with vectors (2, 0), (1, 1), (0, 3): sim(0, 1) = sim(1, 2) = 0.7071, sim(0, 2) = 0.
# One neighbour each: user 0 -> user 1, user 2 -> user 1, user 1 -> user 0 or 2 (a tie, so the
# liked rows of users 0 and 2 are the same here). Liked: user 1 liked items 0 and 2, users 0 and 2
# item 1. So users 0 and 2 score (0.7071, 0, 0.7071) and user 1 scores (0, 0.7071, 0).
R = 0.5 ** 0.5
CF_CASES = [
    ([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]], [[0, 1, 0], [1, 0, 1], [0, 1, 0]], 1,
     [[R, 0.0, R], [0.0, R, 0.0], [R, 0.0, R]]),
]


def _cf_hint(vectors: np.ndarray, liked: np.ndarray, k: int, got: np.ndarray) -> str:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    if np.allclose(got, similarity @ liked, atol=1e-4):
        return "keep only each user's n_neighbours most similar other users"
    with_self = similarity.copy()
    for i in range(len(with_self)):  # top k including the user themself
        top = np.argsort(-with_self[i])[:k]
        keep = np.zeros(len(with_self), bool)
        keep[top] = True
        with_self[i, ~keep] = 0
    if np.allclose(got, np.where(with_self > 0, with_self, 0) @ liked, atol=1e-4):
        return "a user is never their own neighbour: leave user i out of i's neighbours"
    dot = vectors @ vectors.T
    np.fill_diagonal(dot, -np.inf)
    weights = np.zeros_like(dot)
    for i in range(len(dot)):
        top = np.argsort(-dot[i])[:k]
        weights[i, top] = np.maximum(dot[i, top], 0)
    if np.allclose(got, weights @ liked, atol=1e-4):
        return "use the cosine similarity (divide by both vectors' lengths), not the dot product"
    expected = reference_user_cf_scores(vectors, liked, k)
    sums = np.asarray(reference_user_cf_scores(vectors, np.ones_like(liked), k))
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.allclose(got, np.nan_to_num(expected / sums), atol=1e-4):
            return "do not divide by the sum of the similarities: it changes no ranking here"
    if (got < -1e-6).any() and not (expected < -1e-6).any():
        return "neighbours must have a similarity above 0: leave out negatively similar users"
    return "expected the scores of the package's user-based CF; check the top-n_neighbours step"


@check(LESSON, 3, "user_cf_scores", "user-based CF from the top-k text neighbours")
def check_user_cf_scores(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(CF_CASES)]
    rng = hidden_rng(5)
    for number in range(6):
        n_users, n_items, dim = (
            int(rng.integers(5, 30)),
            int(rng.integers(3, 20)),
            int(rng.integers(2, 8)),
        )
        vectors = rng.normal(size=(n_users, dim))
        liked = (rng.random((n_users, n_items)) < 0.3).astype(float)
        k = int(rng.integers(1, n_users))
        given.append((f"hidden case {number + 1} ({n_users} users, n_neighbours={k})", vectors,
                      liked, k, reference_user_cf_scores(vectors, liked, k)))
    for case, vectors, liked, k, expected in given:
        vectors, liked = np.asarray(vectors, float), np.asarray(liked, float)
        expected = np.asarray(expected, float)
        got = as_array(
            cases, case, cases.call(vectors.copy(), liked.copy(), k, case=case), expected.shape
        )
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(f"{case}: " + _cf_hint(vectors, liked, k, got))
        cases.passed()


# -------------------------------------------------------------------- task 4: ranking_mf_loss

# One factor each (d = 1): p = (1, 2), q = (1, 0, -1), item biases b = (0, 1, 0), so user 0
# scores the items (1, 1, -1) and user 1 scores them (2, 1, -2). Pairs (user 0, item 1) and
# (user 1, item 0), l2 = 0.1:
#   (0, 1): -log(e / (e + e + e^-1)) = log(2 + e^-2) = 0.75862, penalty 0.1 * (1 + 0 + 1) = 0.2;
#   (1, 0): -log(e^2 / (e^2 + e + e^-2)) = log(1 + e^-1 + e^-4) = 0.32656,
#           penalty 0.1 * (4 + 1 + 0) = 0.5;
#   mean: (0.75862 + 0.2 + 0.32656 + 0.5) / 2 = 0.89259.
# Example 2 multiplies every factor and bias by 30, with l2 = 0.001: user 0 scores
# (900, 30, -900) and user 1 (1800, 30, -1800), beyond np.exp's range (it overflows above 709):
#   (0, 1): 900 + log(1 + e^-870 + e^-1800) - 30 = 870, penalty 0.001 * (900 + 0 + 900) = 1.8;
#   (1, 0): log(1 + e^-1770 + e^-3600) = 0, penalty 0.001 * (3600 + 900 + 0) = 4.5;
#   mean: (870 + 1.8 + 0 + 4.5) / 2 = 438.15.
RANKING_CASES = [
    ([[1.0], [2.0]], [[1.0], [0.0], [-1.0]], [0.0, 1.0, 0.0], [0, 1], [1, 0], 0.1,
     (np.log(2 + np.exp(-2)) + 0.2 + np.log(1 + np.exp(-1) + np.exp(-4)) + 0.5) / 2),
    ([[30.0], [60.0]], [[30.0], [0.0], [-30.0]], [0.0, 30.0, 0.0], [0, 1], [1, 0], 0.001,
     438.15),
]
LARGE_SCORE = 700.0  # np.exp overflows float64 above about 709.78


def _cross_entropy(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log softmax(scores)[target] of each row, stably: float [rows]."""
    top = scores.max(axis=1, keepdims=True)
    log_sum = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
    return log_sum - scores[np.arange(len(scores)), targets]


def _ranking_variants(p, q, b, users, items, l2: float) -> dict[str, float]:
    """The right loss and the typical mistakes' values, computed stably."""
    pu, qi, bi = p[users], q[items], b[items]
    scores = pu @ q.T + b                                            # [batch, n items]
    xent = _cross_entropy(scores, items)
    pair = np.sum(pu ** 2, 1) + np.sum(qi ** 2, 1) + bi ** 2
    in_batch = _cross_entropy(pu @ qi.T + bi, np.arange(len(items)))  # the batch's items only
    seen, where = np.unique(items, return_inverse=True)
    seen_only = _cross_entropy(pu @ q[seen].T + b[seen], where.ravel())
    every_item = np.sum(pu ** 2, 1) + np.sum(q ** 2) + np.sum(b ** 2)
    return {
        "right": np.mean(xent + l2 * pair),
        "sum": np.sum(xent + l2 * pair),
        "no penalty": np.mean(xent),
        "penalty on every item": np.mean(xent + l2 * every_item),
        "penalty on the tables": np.mean(xent) + l2 * (np.sum(p ** 2) + np.sum(q ** 2)
                                                       + np.sum(b ** 2)),
        "no bias in the penalty": np.mean(xent + l2 * (pair - bi ** 2)),
        "no bias": np.mean(_cross_entropy(pu @ q.T, items) + l2 * pair),
        "no bias anywhere": np.mean(_cross_entropy(pu @ q.T, items) + l2 * (pair - bi ** 2)),
        "batch's items": np.mean(in_batch + l2 * pair),
        "batch's distinct items": np.mean(seen_only + l2 * pair),
    }


_RANKING_HINTS = {
    "sum": "that is the sum of the per-pair losses: take their mean over the batch",
    "no penalty": "add the L2 penalty l2 * (|p_u|^2 + |q_i|^2 + b_i^2) of each pair",
    "penalty on every item": ("the penalty is on the pair's own parameters, p_u, q_i and b_i, "
                              "not on every item of the catalogue"),
    "penalty on the tables": ("the penalty is on each pair's own parameters, p_u, q_i and b_i, "
                              "averaged with the pairs, not on the whole tables"),
    "no bias in the penalty": "the penalty includes the item bias too: + b_i^2",
    "no bias": "add the item bias b_j to every score: s(u, j) = p_u . q_j + b_j",
    "no bias anywhere": "add the item bias b_j to every score: s(u, j) = p_u . q_j + b_j",
    "batch's items": ("the softmax runs over the whole catalogue (every item j, scores "
                      "p_u @ item_factors.T + item_bias), not over the batch's items only"),
    "batch's distinct items": ("the softmax runs over the whole catalogue (every item j), not "
                               "over the items that appear in the batch"),
}


def _ranking_hint(p, q, b, users, items, l2: float, got: float) -> str:
    variants = _ranking_variants(p, q, b, users, items, l2)
    for name, hint in _RANKING_HINTS.items():
        if np.isclose(got, variants[name], rtol=1e-4, atol=1e-4):
            return hint
    return f"expected {variants['right']:.4f}, got {got:.4f}"


def _ranking_result(cases: Cases, case: str, result, batch: int) -> float:
    """The learner's loss as a float, or a failure naming ``case``."""
    if result is None:
        raise cases.fail(f"{case}: return the loss (one number); the function returned None")
    try:
        got = np.asarray(result, float)
    except (TypeError, ValueError):
        raise cases.fail(f"{case}: return one number, got {describe(result, 80)}") from None
    if got.size != 1:
        per_pair = " (each pair's loss?)" if got.shape == (batch,) else ""
        raise cases.fail(f"{case}: return one number, the batch mean, got shape "
                         f"{list(got.shape)}{per_pair}")
    return float(got.reshape(()))


@check(LESSON, 4, "ranking_mf_loss",
       "matrix factorisation's ranking loss: a stable softmax over the catalogue + L2")
def check_ranking_mf_loss(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}" + (" (large scores)" if n else ""), *case)
             for n, case in enumerate(RANKING_CASES)]
    rng = hidden_rng(5005)
    for number in range(6):
        n_users, dim = int(rng.integers(2, 12)), int(rng.integers(1, 6))
        batch = 1 if number == 5 else int(rng.integers(2, 20))
        n_items = int(rng.integers(batch + 3, batch + 40))  # more items than the batch holds
        scale = 30.0 if number == 4 else float(rng.uniform(0.3, 1.5))
        parts = (rng.normal(scale=scale, size=(n_users, dim)),
                 rng.normal(scale=scale, size=(n_items, dim)),
                 rng.normal(scale=scale, size=n_items),
                 rng.integers(0, n_users, batch), rng.integers(0, n_items, batch),
                 float(rng.choice([0.001, 0.01, 0.1, 0.5]) if number != 4 else 0.001))
        what = "large scores" if number == 4 else f"{batch} pair(s)"
        given.append((f"hidden case {number + 1} ({n_items} items, {what})", *parts,
                      reference_ranking_mf_loss(*parts)))
    for case, p, q, b, users, items, l2, expected in given:
        p, q, b = (np.asarray(v, float) for v in (p, q, b))
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        result = cases.call(p.copy(), q.copy(), b.copy(), users.copy(), items.copy(), l2,
                            case=case)
        got = _ranking_result(cases, case, result, len(users))
        if not math.isfinite(got):
            large = np.abs(p[users] @ q.T + b).max() > LARGE_SCORE
            raise cases.fail(f"{case}: the loss is {got}" + (
                ": np.exp overflowed (scores here reach the thousands, and np.exp(710) is inf). "
                "Subtract each pair's largest score before np.exp: log-sum-exp" if large else
                ": it must be a finite number"))
        if not np.isclose(got, expected, rtol=1e-4, atol=1e-4):
            raise cases.fail(f"{case}: " + _ranking_hint(p, q, b, users, items, l2, got))
        cases.passed()
