"""Ranking and rating metrics on tiny score matrices whose values are worked out by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from textrec.evaluation import metrics

# Two users, four items.
#   user 0 scores [0.9, 0.1, 0.5, 0.3] -> ranking 0, 2, 3, 1
#   user 1 scores [0.2, 0.8, 0.4, 0.6] -> ranking 1, 3, 2, 0
SCORES = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.6]])


def test_topk_items_orders_best_first():
    np.testing.assert_array_equal(metrics.topk_items(SCORES, 3), [[0, 2, 3], [1, 3, 2]])


def test_topk_items_masks_excluded_items_in_every_form():
    # user 0 without item 0 -> 2, 3; user 1 without items 1 and 3 -> 2, 0
    expected = [[2, 3], [2, 0]]
    lists = [[0], [1, 3]]
    csr = sp.csr_matrix(([1, 1, 1], ([0, 1, 1], [0, 1, 3])), shape=(2, 4))
    np.testing.assert_array_equal(metrics.topk_items(SCORES, 2, exclude=lists), expected)
    np.testing.assert_array_equal(metrics.topk_items(SCORES, 2, exclude=csr), expected)
    arrays = [np.array([0]), np.array([1, 3])]
    np.testing.assert_array_equal(metrics.topk_items(SCORES, 2, exclude=arrays), expected)


def test_topk_items_pads_with_minus_one_when_items_run_out():
    # user 0 has three of four items masked: only item 3 is left; k = 5 > 4 items.
    top = metrics.topk_items(SCORES, 5, exclude=[[0, 1, 2], []])
    np.testing.assert_array_equal(top, [[3, -1, -1, -1, -1], [1, 3, 2, 0, -1]])


def test_ties_inside_the_top_k_go_to_the_lower_item_index():
    top = metrics.topk_items(np.array([[0.5, 0.7, 0.5, 0.7]]), 4)
    np.testing.assert_array_equal(top, [[1, 3, 0, 2]])


def test_hand_checked_metrics_one_target_each():
    # targets: user 0 -> item 2 (rank 2 after masking nothing), user 1 -> item 2 (rank 3).
    result = metrics.ranking_metrics(SCORES, [[2], [2]], ks=(1, 3), per_user=True)
    # k = 1: neither target is first -> every metric 0.
    for name in metrics.METRIC_NAMES:
        assert result[f"{name}@1"] == 0.0
    # k = 3: both found. HR = 1. precision = 1/3 each. recall = 1.
    assert result["hr@3"] == 1.0
    assert result["precision@3"] == pytest.approx(1 / 3)
    assert result["recall@3"] == 1.0
    # NDCG: user 0 1/log2(3) = 0.6309, user 1 1/log2(4) = 0.5; ideal DCG = 1 -> mean 0.5655.
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)
    np.testing.assert_allclose(result["per_user"]["ndcg@3"], [1 / math.log2(3), 0.5])
    # MRR: 1/2 and 1/3 -> 5/12. MAP with one target equals MRR.
    assert result["mrr@3"] == pytest.approx(5 / 12)
    assert result["map@3"] == pytest.approx(5 / 12)
    assert result["n_users_evaluated"] == 2 and result["n_users_skipped"] == 0


def test_hand_checked_metrics_two_targets_and_masking():
    # user 0: mask item 0 -> ranking 2, 3, 1; targets {3, 1} sit at ranks 2 and 3.
    result = metrics.ranking_metrics(SCORES[:1], [[3, 1]], exclude=[[0]], ks=(2, 3))
    # k = 2: one hit at rank 2. HR 1, precision 1/2, recall 1/2, MRR 1/2.
    at_2 = [result[f"{name}@2"] for name in ("hr", "precision", "recall", "mrr")]
    assert at_2 == [1.0, 0.5, 0.5, 0.5]
    # NDCG@2: DCG = 1/log2(3) = 0.6309; ideal over min(2, 2) = 1 + 0.6309 -> 0.3869.
    assert result["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # MAP@2: precision at the hit rank 2 is 1/2; divided by min(2, 2) = 2 -> 0.25.
    assert result["map@2"] == pytest.approx(0.25)
    # k = 3: hits at ranks 2 and 3. precision 2/3, recall 1.
    assert result["precision@3"] == pytest.approx(2 / 3) and result["recall@3"] == 1.0
    # NDCG@3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3) = 1.1309 / 1.6309 = 0.6934.
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3)))
    # MAP@3: (1/2 + 2/3) / min(3, 2) = 7/12.
    assert result["map@3"] == pytest.approx(7 / 12)


def test_masked_target_is_never_a_hit():
    # user 0's only target is item 0, which is also masked: it can never be recommended.
    result = metrics.ranking_metrics(SCORES[:1], [[0]], exclude=[[0]], ks=(4,))
    assert result["hr@4"] == 0.0


def test_users_without_targets_are_skipped_and_counted():
    result = metrics.ranking_metrics(SCORES, [[0], []], ks=(1,), per_user=True)
    # only user 0 counts; item 0 is first -> HR@1 = 1.
    assert result["n_users_evaluated"] == 1 and result["n_users_skipped"] == 1
    assert result["hr@1"] == 1.0
    assert np.isnan(result["per_user"]["hr@1"][1])


def test_target_forms_agree():
    as_lists = metrics.ranking_metrics(SCORES, [[2], [3]], ks=(2,))
    as_array = metrics.ranking_metrics(SCORES, np.array([2, 3]), ks=(2,))
    sparse_targets = sp.csr_matrix(([1, 1], ([0, 1], [2, 3])), shape=(2, 4))
    as_sparse = metrics.ranking_metrics(SCORES, sparse_targets, ks=(2,))
    assert as_lists == as_array == as_sparse
    assert metrics.hit_rate_at_k(SCORES, [[2], [3]], k=2) == as_lists["hr@2"] == 1.0


def test_perfect_ranker_scores_one():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 50, 30, 5
    targets = [rng.choice(n_items, size=k, replace=False) for _ in range(n_users)]
    scores = rng.random((n_users, n_items))
    for user, items in enumerate(targets):
        scores[user, items] += 10.0  # every relevant item above every other item
    result = metrics.ranking_metrics(scores, targets, ks=(k,))
    for name in metrics.METRIC_NAMES:  # k relevant items each: precision can reach 1 too
        assert result[f"{name}@{k}"] == pytest.approx(1.0), name


def test_perfect_ranker_with_one_target_scores_one_except_precision():
    rng = np.random.default_rng(2)
    targets = rng.integers(0, 30, 50)
    scores = rng.random((50, 30))
    scores[np.arange(50), targets] = 2.0  # the target is first for every user
    result = metrics.ranking_metrics(scores, targets, ks=(5,))
    for name in ("hr", "ndcg", "mrr", "recall", "map"):
        assert result[f"{name}@5"] == pytest.approx(1.0), name
    assert result["precision@5"] == pytest.approx(1 / 5)  # one hit in five slots at best


def test_random_ranker_hit_rate_is_k_over_n_items():
    rng = np.random.default_rng(1)
    n_users, n_items, k = 20_000, 100, 10
    scores, targets = rng.random((n_users, n_items)), rng.integers(0, n_items, n_users)
    result = metrics.ranking_metrics(scores, targets, ks=(k,))
    # HR@10 of a random ranker is 10/100 = 0.1; standard error sqrt(0.09/20000) = 0.002.
    assert result["hr@10"] == pytest.approx(k / n_items, abs=0.01)
    assert result["recall@10"] == result["hr@10"]  # one target each


def test_rmse_and_mae_by_hand():
    # errors 1, -1, 2, 0 -> squared mean (1 + 1 + 4 + 0) / 4 = 1.5, absolute mean 4 / 4 = 1.
    assert metrics.rmse([1, 2, 3, 4], [2, 1, 5, 4]) == pytest.approx(math.sqrt(1.5))
    assert metrics.mae([1, 2, 3, 4], [2, 1, 5, 4]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.ranking_metrics(SCORES, [[0]], ks=(1,)), "1 rows"),
        (lambda: metrics.ranking_metrics(SCORES, [[0], [4]], ks=(1,)), "outside"),
        (lambda: metrics.ranking_metrics(SCORES, [[0], [-1]], ks=(1,)), "outside"),
        (lambda: metrics.ranking_metrics(SCORES, [[0], [1]], ks=(0,)), "positive"),
        (lambda: metrics.topk_items(SCORES, -3), "positive"),
        (lambda: metrics.ranking_metrics(SCORES[0], [[0]], ks=(1,)), "2-D"),
        (lambda: metrics.topk_items(SCORES, 1, exclude=sp.csr_matrix((2, 5))), "shape"),
        (lambda: metrics.ranking_metrics(np.array([[np.nan, 1.0]]), [[0]]), "NaN"),
        (lambda: metrics.ranking_metrics(SCORES, [[], []]), "no user"),
        (lambda: metrics.rmse([1, 2, 3], [[1], [2], [3]]), "shape"),
        (lambda: metrics.mae([], []), "empty"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
