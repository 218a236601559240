"""Evaluation lesson: baselines, protocols, slices, beyond-accuracy, uncertainty and results,
on hand-made inputs whose expected values are worked out in the comments."""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from textrec.data import schema
from textrec.evaluation import (
    Evaluator,
    EvaluationResults,
    InteractionData,
    activity_slices,
    beyond_accuracy,
    bootstrap_ci,
    movielens_data,
    msr_metrics,
    paired_test,
    RANDOM,
    expected_random_metrics,
    per_user_metrics,
    popularity_slices,
    ranking_metrics,
    run_movielens_benchmark,
    sampled_ranking_metrics,
    sampled_ranks,
    stratified_split,
    topk_items,
)
from textrec.evaluation.movielens_protocol import msr_exclude
from textrec.models import EASE, ItemKNN, MostPopular, ease_weights, implicit_available

# Four users, four items:     item 0  1  2  3
#   user 0 has {0, 1}               1  1  .  .
#   user 1 has {0, 1, 2}            1  1  1  .
#   user 2 has {1, 2}               .  1  1  .
#   user 3 has {2, 3}               .  .  1  1
X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 1]], np.float32))


def _history(*items, n_items=4):
    row = np.zeros((1, n_items), np.float32)
    row[0, list(items)] = 1
    return sp.csr_matrix(row)


def _ranking(scores, seen):
    return list(topk_items(scores, 4 - len(seen), exclude=[list(seen)])[0])


# -- baselines -------------------------------------------------------------------------------

def test_most_popular_ranks_by_count_with_lower_index_first_on_ties():
    # column counts [2, 3, 3, 1]: items 1 and 2 tie at 3 -> 1 first; then 0 (2), then 3 (1).
    scores = MostPopular().fit(X).score(_history(0))
    assert scores.shape == (1, 4)
    assert list(topk_items(scores, 4)[0]) == [1, 2, 0, 3]


def test_item_knn_cosine_and_its_ranking():
    # Item counts n = [2, 3, 3, 1]; co-counts: (0,1) 2, (0,2) 1, (1,2) 2, (2,3) 1, others 0.
    # cos(0,1) = 2 / sqrt(2*3) = 0.8165, cos(0,2) = 1 / sqrt(6) = 0.4082,
    # cos(1,2) = 2 / sqrt(3*3) = 0.6667, cos(2,3) = 1 / sqrt(3*1) = 0.5774.
    model = ItemKNN(n_neighbours=None).fit(X)
    expected = np.array([[0, 2 / math.sqrt(6), 1 / math.sqrt(6), 0],
                         [2 / math.sqrt(6), 0, 2 / 3, 0],
                         [1 / math.sqrt(6), 2 / 3, 0, 1 / math.sqrt(3)],
                         [0, 0, 1 / math.sqrt(3), 0]])
    np.testing.assert_allclose(model.weights, expected, rtol=1e-6)
    # history {0}: scores [-, 0.8165, 0.4082, 0] -> 1, 2, 3
    assert _ranking(model.score(_history(0)), [0]) == [1, 2, 3]
    # history {2}: scores [0.4082, 0.6667, -, 0.5774] -> 1, 3, 0
    assert _ranking(model.score(_history(2)), [2]) == [1, 3, 0]
    # history {0, 3}: item 2 gets 0.4082 + 0.5774 = 0.9856 > item 1's 0.8165 -> 2, 1
    assert _ranking(model.score(_history(0, 3)), [0, 3]) == [2, 1]


def test_item_knn_keeps_only_the_top_neighbours_and_shrinks():
    # One neighbour per row: row 2 keeps item 1 (0.6667 beats 0.5774 and 0.4082), row 3 keeps 2.
    model = ItemKNN(n_neighbours=1).fit(X)
    np.testing.assert_allclose(model.score(_history(2))[0], [0, 2 / 3, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(model.score(_history(3))[0], [0, 0, 1 / math.sqrt(3), 0], rtol=1e-6)
    # shrink 1: cos(0,1) = 2 / (sqrt(6) + 1) = 0.5798
    shrunk = ItemKNN(n_neighbours=None, shrink=1.0).fit(X)
    assert shrunk.weights[0, 1] == pytest.approx(2 / (math.sqrt(6) + 1), rel=1e-6)


def test_ease_on_two_co_bought_items_by_hand():
    # Users: {0,1}, {0,1}, {0}, {2}. Counts a0 = 3, a1 = 2, a2 = 1; co-count c01 = 2.
    # With l2 = 1 the {0,1} block of X^T X + I is [[4, 2], [2, 3]], det 8, inverse
    # [[3, -2], [-2, 4]] / 8.  W[0,1] = -P01 / P11 = (2/8) / (4/8) = 0.5,
    # W[1,0] = -P10 / P00 = (2/8) / (3/8) = 2/3; item 2 has no co-occurrence: zeros.
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32))
    weights = EASE(l2=1.0).fit(x).weights
    np.testing.assert_allclose(weights, [[0, 0.5, 0], [2 / 3, 0, 0], [0, 0, 0]], atol=1e-6)
    # history {0}: scores [-, 0.5, 0] -> item 1 before item 2
    assert _ranking(EASE(l2=1.0).fit(x).score(_history(0, n_items=3)), [0])[:2] == [1, 2]


def test_ease_matches_its_closed_form_and_the_constrained_ridge_per_column():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.3).astype(float)
    l2 = 3.0
    weights = ease_weights(sp.csr_matrix(x), l2)
    # Closed form, computed directly: B = I - P / diag(P), P = (X^T X + l2 I)^-1.
    p = np.linalg.inv(x.T @ x + l2 * np.eye(12))
    np.testing.assert_allclose(weights, np.eye(12) - p / np.diag(p)[None, :], atol=1e-10)
    # Independently: column j is the ridge regression of x_j on the other items (B_jj = 0).
    for j in range(12):
        others = [i for i in range(12) if i != j]
        a = x[:, others]
        column = np.linalg.solve(a.T @ a + l2 * np.eye(11), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], column, atol=1e-8)
        assert weights[j, j] == 0.0


def test_baselines_refuse_to_score_before_fit():
    for model in (ItemKNN(), EASE(), MostPopular()):
        with pytest.raises(ValueError, match="not fitted"):
            model.score(X)


@pytest.mark.skipif(not implicit_available(), reason="the optional 'implicit' package is missing")
def test_implicit_als_and_bpr_rank_the_missing_item_of_the_user_s_group_first():
    from textrec.models import ImplicitALS, ImplicitBPR

    # Two groups of 12 users: group A buys {0, 1, 2}, group B buys {3, 4, 5}. The last user of
    # group A lacks item 2: a factor model should put item 2 before every group-B item.
    rows = [[1, 1, 1, 0, 0, 0]] * 11 + [[1, 1, 0, 0, 0, 0]] + [[0, 0, 0, 1, 1, 1]] * 12
    x = sp.csr_matrix(np.array(rows, np.float32))
    for model in (ImplicitALS(factors=4, regularization=0.01, alpha=5.0, iterations=20),
                  ImplicitBPR(factors=4, learning_rate=0.05, iterations=300)):
        scores = model.fit(x).score(x)
        assert scores.shape == (24, 6)
        assert topk_items(scores[11:12], 1, exclude=[[0, 1]])[0, 0] == 2, model.name


# -- metrics and the vectorised evaluation ---------------------------------------------------

def test_perfect_and_random_rankers_hit_their_known_values():
    rng = np.random.default_rng(1)
    n_users, n_items, k = 20_000, 50, 10
    targets = rng.integers(0, n_items, n_users)
    perfect = np.zeros((n_users, n_items))
    perfect[np.arange(n_users), targets] = 1.0
    result = ranking_metrics(perfect, targets, ks=(k,))
    for name in ("hr", "ndcg", "mrr", "recall", "map"):
        assert result[f"{name}@{k}"] == 1.0
    assert result[f"precision@{k}"] == pytest.approx(1 / k)
    # Random scores: the target's rank is uniform on 1..50, so HR@10 = 10/50 = 0.2 and
    # NDCG@10 = (1/50) * sum_{r=1..10} 1/log2(r+1) = 0.0909; MRR@10 = (1/50) * H_10 = 0.0586.
    random = ranking_metrics(rng.random((n_users, n_items)), targets, ks=(k,))
    assert random[f"hr@{k}"] == pytest.approx(0.2, abs=0.01)
    assert random[f"ndcg@{k}"] == pytest.approx(sum(1 / math.log2(r + 1)
                                                    for r in range(1, 11)) / 50, abs=0.006)
    assert random[f"mrr@{k}"] == pytest.approx(sum(1 / r for r in range(1, 11)) / 50, abs=0.005)


def _slow_reference(scores, targets, exclude, k):
    """One user at a time, straight from the definitions."""
    out = {name: [] for name in ("hr", "ndcg", "mrr", "precision", "recall", "map")}
    for user in range(scores.shape[0]):
        relevant = set(targets[user])
        if not relevant:
            for values in out.values():
                values.append(np.nan)
            continue
        order = [i for i in np.argsort(-scores[user]) if i not in set(exclude[user])][:k]
        hits = [1.0 if i in relevant else 0.0 for i in order]
        n_ideal = min(k, len(relevant))
        out["hr"].append(float(any(hits)))
        out["ndcg"].append(sum(h / math.log2(r + 2) for r, h in enumerate(hits))
                           / sum(1 / math.log2(r + 2) for r in range(n_ideal)))
        out["mrr"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(relevant))
        out["map"].append(sum(sum(hits[:r + 1]) / (r + 1) for r, h in enumerate(hits) if h)
                          / n_ideal)
    return {name: np.array(values) for name, values in out.items()}


def test_vectorised_evaluation_equals_a_slow_per_user_reference():
    rng = np.random.default_rng(2)
    n_users, n_items, k = 80, 30, 5
    scores = rng.random((n_users, n_items))
    targets, exclude = [], []
    for user in range(n_users):
        items = rng.permutation(n_items)
        n_targets = 0 if user % 9 == 0 else int(rng.integers(1, 8))
        targets.append(items[:n_targets])
        exclude.append(items[n_targets:n_targets + int(rng.integers(0, 10))])
    per_user, top, evaluated = per_user_metrics(scores, targets, exclude, ks=(k,))
    reference = _slow_reference(scores, targets, exclude, k)
    for name, values in reference.items():
        np.testing.assert_allclose(per_user[f"{name}@{k}"], values, atol=1e-12, err_msg=name)
    assert (top.shape == (len(evaluated), k)
            and len(evaluated) == n_users - len(range(0, n_users, 9)))


# -- protocol, tuning, results ---------------------------------------------------------------

def _reviews(rows):
    """(user, item, day) rows -> a reviews frame in file order."""
    return pd.DataFrame({schema.USER: [r[0] for r in rows], schema.ITEM: [r[1] for r in rows],
                         schema.RATING: 5.0, schema.TEXT: "", schema.SUMMARY: "",
                         schema.TIMESTAMP: [r[2] * 86_400 for r in rows],
                         schema.ORDER: range(len(rows))})


def _tiny_data(seed=0, n_users=60, n_items=25, per_user=(3, 14)):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        count = int(rng.integers(*per_user))
        group = user % 3  # three tastes: items drawn mostly from the user's third of the catalogue
        pool = [i for i in range(n_items) if i % 3 == group] * 3 + list(range(n_items))
        items = list(dict.fromkeys(rng.choice(pool, size=40)))[:count]
        rows += [(f"u{user:02d}", f"i{item:02d}", day) for day, item in enumerate(items)]
    return InteractionData.from_reviews(_reviews(rows))


def test_interaction_data_masks_validation_items_on_test_whatever_the_fit():
    data = _tiny_data()
    both = (data.train + data.validation).toarray() > 0
    np.testing.assert_array_equal(data.exclude("test").toarray() > 0, both)
    np.testing.assert_array_equal(data.exclude("validation").toarray() > 0,
                                  data.train.toarray() > 0)
    np.testing.assert_array_equal(data.history("test", "train+validation").toarray() > 0, both)
    with pytest.raises(ValueError, match="refit is for test"):
        data.history("validation", "train+validation")
    # leave-last-out: one validation and one test item per user
    assert set(np.diff(data.test.indptr)) == {1} and set(np.diff(data.validation.indptr)) == {1}


def test_evaluator_tunes_on_validation_and_reports_both_fits():
    data = _tiny_data()
    evaluator = Evaluator(data)
    evaluator.run("EASE", EASE, grid={"l2": [1.0, 10.0, 100.0]})
    evaluator.run("most popular", MostPopular)
    tuning = evaluator.tuning["EASE"]
    assert len(tuning) == 3 and "validation ndcg@10" in tuning
    best = tuning["l2"][tuning["validation ndcg@10"].idxmax()]
    runs = {(r.model, r.part, r.fit): r for r in evaluator.results.runs}
    # each (part, fit) evaluated also gets the random ranking's expected values beside it
    assert set(runs) == {(m, p, f) for m in ("EASE", "most popular", RANDOM)
                         for p, f in (("validation", "train"), ("test", "train"),
                                      ("test", "train+validation"))}
    assert runs["EASE", "test", "train"].params == {"l2": best}
    table = evaluator.results.table(slices=("all", "cold"))
    assert list(table.index.get_level_values("fit")) == ["train", "train+validation"] * 3
    assert ({"coverage", "novelty", "popularity_percentile", "fit s", "evaluate s"}
            <= set(table.columns))
    assert (evaluator.results.get("EASE").mean("hr@10")
            > evaluator.results.get("most popular").mean("hr@10"))


def test_results_round_trip_through_json(tmp_path):
    data = _tiny_data(seed=3)
    evaluator = Evaluator(data, ks=(5, 10),
                          item_vectors=np.random.default_rng(0).random((data.n_items, 4)))
    evaluator.run("item-kNN", ItemKNN, params={"n_neighbours": 5})
    evaluator.run("most popular", MostPopular, refit=False)
    results = evaluator.results
    loaded = EvaluationResults.load(results.save(tmp_path / "results.json"))
    assert loaded.models() == results.models() and loaded.protocol == "leave-last-out"
    for run in results.runs:
        twin = loaded.get(run.model, run.part, run.fit)
        assert twin.params == run.params and twin.beyond == pytest.approx(run.beyond)
        for metric, values in run.per_user.items():
            np.testing.assert_allclose(twin.per_user[metric], values, atol=1e-6)
    pd.testing.assert_frame_equal(loaded.table(slices=("all", "warm")),
                                  results.table(slices=("all", "warm")))
    assert loaded.to_markdown() == results.to_markdown()
    assert "<table" in loaded._repr_html_()
    curve = loaded.activity_curve("ndcg@10")
    assert set(curve["model"]) == {"item-kNN", "most popular", RANDOM}
    assert (curve["low"] <= curve["mean"]).all()


# -- slices, beyond accuracy, uncertainty ----------------------------------------------------

def test_activity_and_popularity_slices():
    slices = activity_slices([1, 3, 4, 10, 11], cold_max=3, warm_max=10)
    assert slices["cold"].tolist() == [True, True, False, False, False]
    assert slices["warm"].tolist() == [False, False, True, True, False]
    assert slices["heavy"].tolist() == [False, False, False, False, True]
    groups = popularity_slices([10.0, 50.0, 79.9, 80.0, np.nan])
    assert groups["tail"].tolist() == [True, False, False, False, False]
    assert groups["mid"].tolist() == [False, True, True, False, False]
    assert groups["head"].tolist() == [False, False, False, True, False]


def test_beyond_accuracy_by_hand():
    top = np.array([[0, 1], [0, 2]])
    popularity = np.array([4.0, 2.0, 1.0, 0.0])
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    result = beyond_accuracy(top, popularity, n_users=4, item_vectors=vectors)
    assert result["coverage"] == 3 / 4  # items 0, 1, 2 of 4
    # -log2(p): item 0 4/4 -> 0, item 1 2/4 -> 1, item 2 1/4 -> 2; slots 0, 1, 0, 2 -> 3/4
    assert result["novelty"] == pytest.approx(0.75)
    # percentiles of [4, 2, 1, 0]: ranks 4, 3, 2, 1 -> [100, 66.7, 33.3, 0]; slots -> 75
    assert result["popularity_percentile"] == pytest.approx(75.0)
    # user 0: cos(item 0, item 1) = 0 -> 1; user 1: cos(item 0, item 2) = 1 -> 0; mean 0.5
    assert result["diversity"] == pytest.approx(0.5)


def test_bootstrap_interval_contains_the_mean_and_shrinks_with_more_users():
    rng = np.random.default_rng(4)
    widths = []
    for n in (100, 1_000, 10_000):
        values = (rng.random(n) < 0.3).astype(float)
        mean, low, high = bootstrap_ci(values, n_resamples=500, seed=0)
        assert low <= mean <= high and mean == pytest.approx(values.mean())
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # roughly 2 * 1.96 * sqrt(0.3 * 0.7 / n): 0.18 at n = 100
    assert widths[0] == pytest.approx(2 * 1.96 * math.sqrt(0.21 / 100), rel=0.3)
    assert bootstrap_ci([1.0, np.nan, 0.0], seed=1) == bootstrap_ci([1.0, 0.0], seed=1)


def test_paired_test_separates_a_real_difference_from_none():
    rng = np.random.default_rng(5)
    a = rng.random(400)
    same = paired_test(a, a.copy(), n_resamples=2_000)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0
    better = paired_test(a + 0.05 + 0.01 * rng.standard_normal(400), a, n_resamples=2_000)
    assert better["p_value"] < 0.01 and better["low"] > 0
    boot = paired_test(a + 0.05, a, method="bootstrap", n_resamples=2_000)
    assert boot["p_value"] < 0.01
    noise = paired_test(a + 0.01 * rng.standard_normal(400), a, n_resamples=2_000)
    assert noise["p_value"] > 0.01


# -- sampled metrics and the MovieLens protocol ----------------------------------------------

def test_sampled_metrics_match_full_ranking_when_every_item_is_sampled():
    rng = np.random.default_rng(6)
    scores, targets = rng.random((200, 40)), rng.integers(0, 40, 200)
    exclude = [rng.choice(40, 5, replace=False) for _ in range(200)]
    exclude = [e[e != t] for e, t in zip(exclude, targets)]
    full = ranking_metrics(scores, targets, exclude, ks=(10,))
    everything = sampled_ranking_metrics(scores, targets, exclude, n_negatives=1_000, ks=(10,))
    assert everything["hr@10"] == pytest.approx(full["hr@10"])
    assert everything["ndcg@10"] == pytest.approx(full["ndcg@10"])
    few = sampled_ranking_metrics(scores, targets, exclude, n_negatives=10, ks=(10,))
    assert few["hr@10"] > full["hr@10"]  # 10 negatives: the target is in the top 10 of 11 often


def test_sampled_metrics_rank_the_first_target_like_full_ranking_does():
    from textrec.evaluation import first_targets
    from textrec.evaluation.metrics import as_item_sets

    # user 0 has targets {3, 1}: the first is item 1; user 1 has none.
    targets = as_item_sets([[3, 1], []], 2, 5, what="targets")
    assert first_targets(targets).toarray().tolist() == [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    # scores of user 0: item 1 is beaten by items 0 and 3 -> rank 3 among all 5 (nothing masked)
    scores = np.array([[0.9, 0.5, 0.1, 0.7, 0.2], [0.1, 0.2, 0.3, 0.4, 0.5]])
    ranks = sampled_ranks(scores, targets, n_negatives=100)
    assert ranks[0] == 3.0 and np.isnan(ranks[1])


def _fake_movielens():
    # user 1: 4 ratings, user 2: 5, user 3: 8 (MovieLens-shaped: ints as strings, ratings 1-5)
    counts = {"1": 4, "2": 5, "3": 8}
    rows = [(user, str(10 + i), 1.0 + (i % 5), 1000 + i)
            for user, n in counts.items() for i in range(n)]
    frame = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP])
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)  # file order is mixed


def test_movielens_stratified_split_keeps_three_quarters_of_each_user():
    frame = _fake_movielens()
    train, test = stratified_split(frame, ratio=0.75, seed=42)
    # rank <= round(0.75 * count): 4 -> 3 train; 5 -> 4 (3.75 rounds up); 8 -> 6
    assert train[schema.USER].value_counts().to_dict() == {"1": 3, "2": 4, "3": 6}
    assert test[schema.USER].value_counts().to_dict() == {"1": 1, "2": 1, "3": 2}
    assert len(pd.concat([train, test]).drop_duplicates()) == len(frame)
    again, _ = stratified_split(frame, ratio=0.75, seed=42)
    pd.testing.assert_frame_equal(train, again)
    other, _ = stratified_split(frame, ratio=0.75, seed=7)
    assert not other.index.equals(train.index)


def test_movielens_stratified_split_rounds_like_recommenders_1_2():
    # Users with 1, 2, 3, 4, 5, 6, 10 and 14 ratings (45 in all). recommenders 1.2.x keeps
    # rank <= round(0.75 * n), halves to even:
    #   n:        1     2    3     4  5     6    10   14     (45 ratings)
    #   0.75 n:   0.75  1.5  2.25  3  3.75  4.5  7.5  10.5
    #   train:    1     2    2     3  4     4    8    10   -> 34 train, 11 test
    # (the pre-1.2 rule rank / n <= 0.75 keeps 0 1 2 3 3 4 7 10 -> 30 / 15).
    sizes = [1, 2, 3, 4, 5, 6, 10, 14]
    rows = [(f"u{n}", f"i{j}", 4.0, j) for n in sizes for j in range(n)]
    frame = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP])
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    train, test = stratified_split(frame, ratio=0.75, seed=42)
    kept = train[schema.USER].value_counts().reindex([f"u{n}" for n in sizes], fill_value=0)
    assert kept.tolist() == [1, 2, 2, 3, 4, 4, 8, 10]
    assert (len(train), len(test)) == (34, 11)
    assert set(test[schema.USER]) == {"u3", "u4", "u5", "u6", "u10", "u14"}


@pytest.mark.skipif(not Path(os.environ.get("TEXTREC_ML100K", "/nonexistent")).is_file(),
                    reason="set TEXTREC_ML100K to ml-100k.zip to check the real ML-100k counts")
def test_movielens_100k_split_counts_match_recommenders_1_2():
    from textrec.data.movielens import load_movielens

    ratings, _ = load_movielens(os.environ["TEXTREC_ML100K"])
    train, test = stratified_split(ratings, ratio=0.75, seed=42)
    assert (len(train), len(test)) == (74_992, 25_008)


def test_msr_metrics_by_hand_and_test_only_items_are_never_recommended():
    # One user; items a..e = 0..4; train {4}, test {0, 1, 2}; k = 2.
    ids = np.array(["u"], object)
    data = InteractionData(ids, np.array(list("abcde"), object),
                           sp.csr_matrix(np.array([[0, 0, 0, 0, 1]], np.float32)),
                           sp.csr_matrix((1, 5), dtype=np.float32),
                           sp.csr_matrix(np.array([[1, 1, 1, 0, 0]], np.float32)))
    # Items 0-3 never appear in train, so the protocol masks them all: no hit possible.
    assert msr_exclude(data).toarray().tolist() == [[1, 1, 1, 1, 1]]
    # A second user's train interactions make items 0-3 candidates.
    data = InteractionData(np.array(["u", "v"], object), data.item_ids,
                           sp.csr_matrix(np.array([[0, 0, 0, 0, 1], [1, 1, 1, 1, 0]], np.float32)),
                           sp.csr_matrix((2, 5), dtype=np.float32),
                           sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], np.float32)))
    # scores: item 4 masked (train) -> ranking 0 (0.9), 3 (0.3), 2, 1 -> top 2 = [0, 3], hits [1, 0]
    scores = np.array([[0.9, 0.1, 0.2, 0.3, 1.0], [0, 0, 0, 0, 0]])
    result = msr_metrics(scores, data, k=2)
    assert result["n_users"] == 1
    assert result["precision@2"] == pytest.approx(1 / 2)
    assert result["recall@2"] == pytest.approx(1 / 3)
    assert result["ndcg@2"] == pytest.approx(1 / (1 + 1 / math.log2(3)))  # ideal: 2 hits
    assert result["map@2"] == pytest.approx(1 / 2)  # precision 1 at rank 1, / min(3, 2)
    assert result["map"] == pytest.approx(1 / 3)  # legacy: / |R| = 3


def test_movielens_benchmark_runs_on_a_fake_frame():
    rng = np.random.default_rng(8)
    rows = [(str(u), str(i), float(rng.integers(1, 6)), 1000 + n)
            for n, (u, i) in enumerate({(int(rng.integers(0, 30)), int(rng.integers(0, 40)))
                                        for _ in range(600)})]
    frame = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP])
    data = movielens_data(frame)
    assert data.validation.nnz == 0 and data.train.nnz + data.test.nnz == len(frame)
    table = run_movielens_benchmark(frame, {"most popular": MostPopular(), "EASE": EASE(l2=10.0)})
    assert list(table.columns[:5]) == ["map@10", "ndcg@10", "precision@10", "recall@10", "map"]
    assert ((table[["map@10", "ndcg@10", "precision@10", "recall@10"]] >= 0).all().all()
            and (table["map"] <= table["map@10"] + 1e-12).all())


def test_random_ranking_expectation_worked_by_hand():
    # One user, 4 items, item 0 seen, target item 3: 3 candidates, 1 target.
    # k = 2: HR = 2/3; NDCG = (1/3)(1 + 1/log2 3) = 0.5436; MRR = 1/3 + (2/3)(1/2)(1/2) = 0.5;
    # precision = 2 slots x 1/3 chance each / 2 = 1/3; recall = 2/3.
    expected = expected_random_metrics([[3]], [[0]], 4, ks=(2,))
    assert expected["hr@2"][0] == pytest.approx(2 / 3)
    assert expected["ndcg@2"][0] == pytest.approx((1 + 1 / np.log2(3)) / 3)
    assert expected["mrr@2"][0] == pytest.approx(1 / 3 + (2 / 3) * (1 / 2) * (1 / 2))
    assert expected["precision@2"][0] == pytest.approx(1 / 3)
    assert expected["recall@2"][0] == pytest.approx(2 / 3)
    # A user without a target is NaN, like ranking_metrics' per-user values.
    assert np.isnan(expected_random_metrics([[], [1]], None, 4, ks=(2,))["hr@2"][0])


def test_random_ranking_expectation_matches_many_random_draws():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 12
    targets = [rng.choice(n_items, size=rng.integers(1, 3), replace=False) for _ in range(n_users)]
    exclude = [np.setdiff1d(rng.choice(n_items, size=4, replace=False), t) for t in targets]
    expected = expected_random_metrics(targets, exclude, n_items, ks=(5,))
    draws = [ranking_metrics(rng.random((n_users, n_items)), targets, exclude, ks=(5,))
             for _ in range(300)]
    for name in ("hr", "ndcg", "mrr", "precision", "recall", "map"):
        observed = np.mean([d[f"{name}@5"] for d in draws])
        # 300 draws of a mean over 60 users: the standard error is well under 0.01
        assert np.nanmean(expected[f"{name}@5"]) == pytest.approx(observed, abs=0.01), name
