"""The Microsoft Recommenders MovieLens benchmark protocol, to compare with published numbers.

Microsoft Recommenders (``recommenders-team/recommenders``, ``examples/06_benchmarks``) reports
MovieLens-100k ranking metrics under this protocol, reproduced here:

* split: ``python_stratified_split(data, ratio=0.75, seed=42)`` as released in recommenders
  1.2.x (``recommenders/datasets/python_splitters.py``, ``_do_stratification``):
  ``np.random.seed(42)``, one uniform number per rating in file order, each user's ratings
  sorted by it; a rating is train when its rank (1, 2, ...) is at most ``round(0.75 * count)``,
  else test. ``round`` of a pandas Series rounds halves to even, so a user with 5 ratings keeps
  4 (3.75 -> 4), with 6 keeps 4 (4.5 -> 4) and with 10 keeps 8 (7.5 -> 8). On ML-100k this
  gives 74,992 train / 25,008 test ratings. (Releases before 1.2 kept rank / count <= 0.75,
  74,646 / 25,354.) Nothing is held out for validation: the benchmark does not tune;
* candidates: every item that appears in train, minus the user's own train items ("remove
  seen"); items only in test can never be recommended but still count as relevant;
* relevance: every test rating is relevant (their BPR entry first drops ratings below 3.5:
  ``relevant_min_rating=3.5``);
* metrics at k = 10 from ``recommenders.evaluation.python_evaluation``, averaged over the
  users present in both test and the recommendations (here: every test user):

  - ``precision@k`` = hits / k; ``recall@k`` = hits / |R| (R: the user's test items);
  - ``ndcg@k``: binary gains, DCG = sum over hits of 1 / log(1 + rank), ideal DCG over the
    first min(k, |R|) ranks. They use the natural log, which cancels in the ratio, so it equals
    this package's NDCG;
  - ``map@k`` (their current ``map_at_k``): sum over hits of precision at the hit's rank,
    divided by min(k, |R|): this package's MAP;
  - ``map`` (their ``map``, and ``map_at_k`` of older releases, whose published benchmark
    tables say "MAP"): the same sum divided by |R|. Both are reported; compare a published
    "MAP" with ``map`` unless the table is recent.

MovieLens is never downloaded by the tests: they run this on a small MovieLens-shaped frame.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.evaluation.evaluator import per_user_metrics
from textrec.evaluation.protocol import InteractionData, interaction_matrix

MSR_METRICS = ("map@{k}", "ndcg@{k}", "precision@{k}", "recall@{k}", "map")


def stratified_split(ratings: pd.DataFrame, ratio: float = 0.75,
                     seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as Microsoft Recommenders' ``python_stratified_split`` makes them.

    ``ratings`` must be in the source file's order (as :func:`textrec.data.movielens.
    load_movielens` returns them): the random numbers are drawn in row order.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    random = np.random.RandomState(seed).rand(len(ratings))  # = np.random.seed(seed); rand(n)
    frame = ratings.assign(_random=random).sort_values([schema.USER, "_random"])
    users = frame.groupby(schema.USER)
    rank = users.cumcount() + 1
    # np.round, like the released ``round(threshold * data["count"])``: halves go to even.
    in_train = (rank <= np.round(ratio * users[schema.USER].transform("count"))).to_numpy()
    clean = frame.drop(columns="_random")
    return clean[in_train].sort_index(), clean[~in_train].sort_index()


def movielens_data(ratings: pd.DataFrame, ratio: float = 0.75, seed: int = 42,
                   relevant_min_rating: float | None = None) -> InteractionData:
    """The protocol's matrices: train and test, an empty validation, items = train items plus
    test-only items (which :func:`msr_exclude` keeps out of every list)."""
    train, test = stratified_split(ratings, ratio, seed)
    if relevant_min_rating is not None:
        test = test[test[schema.RATING] >= relevant_min_rating]
    user_ids = np.array(sorted(set(train[schema.USER]) | set(test[schema.USER])), dtype=object)
    train_items = sorted(set(train[schema.ITEM]))
    test_only = sorted(set(test[schema.ITEM]) - set(train_items))
    item_ids = np.array(train_items + test_only, dtype=object)
    empty = interaction_matrix(test.iloc[:0], user_ids, item_ids)
    return InteractionData(user_ids, item_ids, interaction_matrix(train, user_ids, item_ids), empty,
                           interaction_matrix(test, user_ids, item_ids),
                           protocol=f"msr-stratified-{ratio:.0%}-seed{seed}")


def msr_exclude(data: InteractionData):
    """Items never recommended: each user's train items and every item absent from train."""
    import scipy.sparse as sp

    unseen = np.flatnonzero(np.asarray(data.train.sum(axis=0)).ravel() == 0)
    blocked = sp.csr_matrix((np.ones(data.n_users * unseen.size, np.float32),
                             (np.repeat(np.arange(data.n_users), unseen.size),
                              np.tile(unseen, data.n_users))), shape=data.train.shape)
    total = (data.train + blocked).tocsr()
    total.data[:] = 1.0
    return total


def msr_metrics(scores, data: InteractionData, k: int = 10) -> dict:
    """MAP@k, NDCG@k, precision@k, recall@k and the legacy MAP (means over test users), plus
    ``"per_user"``: the same per user (float [n users], NaN: no test item)."""
    per_user, _, _ = per_user_metrics(scores, data.test, msr_exclude(data), ks=(k,))
    n_relevant = np.diff(data.test.indptr).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        legacy_map = per_user[f"map@{k}"] * np.minimum(n_relevant, k) / n_relevant
    chosen = {f"map@{k}": per_user[f"map@{k}"], f"ndcg@{k}": per_user[f"ndcg@{k}"],
              f"precision@{k}": per_user[f"precision@{k}"], f"recall@{k}": per_user[f"recall@{k}"],
              "map": legacy_map}
    result = {name: float(np.nanmean(values)) for name, values in chosen.items()}
    result["n_users"] = int((n_relevant > 0).sum())
    result["per_user"] = chosen
    return result


def run_movielens_benchmark(ratings: pd.DataFrame, models: dict, k: int = 10,
                            ratio: float = 0.75, seed: int = 42) -> pd.DataFrame:
    """Fit each model (``fit(X)`` / ``score(history)``) on the stratified train split and
    report the protocol's metrics and timings, one row per model."""
    data = movielens_data(ratings, ratio, seed)
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(data.train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        result = msr_metrics(model.score(data.train), data, k)
        rows.append({"model": name, **{m: result[m.format(k=k)] for m in MSR_METRICS},
                     "fit s": fit_seconds, "evaluate s": time.perf_counter() - start})
    table = pd.DataFrame(rows).set_index("model")
    table.columns = [c.format(k=k) for c in table.columns]
    return table
